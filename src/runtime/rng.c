/* The library's one seeded generator, splitmix64: 64-bit integer arithmetic
 * only, so a seed gives the same sequence on every machine (weight init in
 * nn/layers.c, the loader's shuffle in io/loader.c). */
#include "runtime/runtime.h"

uint64_t clrt__splitmix64_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

uint64_t clrt__splitmix64(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15u;
    return clrt__splitmix64_mix(*state);
}
