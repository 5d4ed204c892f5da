#!/bin/sh
# Install Debian's Fashion-MNIST package if it is missing and we can.
if dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    exit 0
fi
if [ -n "$NNBOOK_DATA" ]; then
    echo "install-data: using NNBOOK_DATA=$NNBOOK_DATA"
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        SUDO=""
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        SUDO=none
    fi
    if [ "$SUDO" != none ]; then
        echo "install-data: installing dataset-fashion-mnist (Debian package)"
        $SUDO apt-get update -qq >/dev/null && \
            DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null && exit 0
    fi
fi
echo "install-data: Fashion-MNIST is not installed. Run 'sudo apt-get install dataset-fashion-mnist'," >&2
echo "install-data: or set NNBOOK_DATA to a folder holding the four *-ubyte.gz files." >&2
echo "install-data: (the Fashion-MNIST experiments and tests are skipped until then)" >&2
exit 0
