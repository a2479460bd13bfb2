/*
 * hash.h - a string hash for the small in-memory tables (the event hub's
 * channels, the API's view cache). FNV-1a: short, good enough for ids that
 * are already random in their low bits, and no dependency for it.
 */
#ifndef VD_HASH_H
#define VD_HASH_H

static inline unsigned vd_hash_str(const char *s)
{
    unsigned x = 2166136261u;
    for (; *s; s++)
        x = (x ^ (unsigned char)*s) * 16777619u;
    return x;
}

#endif /* VD_HASH_H */
