/* NN_VECTORISE: compile a function for baseline x86-64 and for x86-64-v3
 * (AVX2, FMA) and v4 (AVX-512), the variant picked at load time by the CPU
 * (GCC function multiversioning): a portable wheel that still uses wide
 * vectors. Elsewhere the attribute is empty. */
#ifndef NN_VECTORISE_H
#define NN_VECTORISE_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define NN_VECTORISE __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define NN_VECTORISE
#endif

#endif
