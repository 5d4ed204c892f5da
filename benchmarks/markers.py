"""Generated tables go between two HTML comment markers of a Markdown file
(the README's bench tables, docs/sklearn.md's scikit-learn table)."""


def replace_between(path, start_mark, end_mark, text):
    """Replace what stands between start_mark and end_mark in `path` by text.

    The markers must exist, in that order; everything outside them is kept.
    """
    with open(path) as f:
        old = f.read()
    start, end = old.find(start_mark), old.find(end_mark)
    if start < 0 or end < start:
        raise SystemExit(f"{path} has no {start_mark} ... {end_mark} section to update")
    with open(path, "w") as f:
        f.write(old[:start + len(start_mark)] + "\n" + text + "\n" + old[end:])
