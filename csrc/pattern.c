/* pattern.c: what a Lua pattern function (string.find, match, gmatch, gsub)
 * would cost on given arguments, counted in matcher steps and given up past a
 * limit, so that policy code is stopped before a match that would not end in
 * a lifetime ("aaaa...":find(".-.-.-b") is O(n^4)); no OpenSSL here.
 *
 *   steps | false = core._pattern_cost(kind, s, p, init, plain, limit)
 *   start, end, captures... | nil | false, why = core._pattern_find(s, p, init, limit)   (specs)
 *
 * The matcher follows lstrlib.c of Lua 5.4 (Copyright (C) 1994-2022 Lua.org,
 * PUC-Rio, MIT licence) step for step, without captures' values and without
 * raising: a malformed pattern costs what was read of it (the real function
 * then raises its own error). One step is one call of the matcher, one pattern
 * item it reads, or one character read by a repetition, and a set [...] one
 * more per 4 bytes each time it is read; a plain find counts each byte
 * compared. The limit is checked at each of those, so that the costing itself
 * never takes much longer than `limit` steps. */
#include <string.h>
#include "clientcert.h"

#define PAT_MAXDEPTH 200            /* lstrlib's MAXCCALLS */
#define PAT_ESC '%'
#define PAT_SPECIALS "^$*+?.([%-"
#define PAT_UNFINISHED (-1)
#define PAT_POSITION (-2)
#define PAT_OVER 1                  /* stop: over the limit */
#define PAT_ERROR 2                 /* stop: a malformed or too complex pattern (the real function raises) */

typedef struct {
    const char *src_init, *src_end, *p_end;
    int level;                      /* captures opened so far */
    int depth;                      /* matcher recursion left */
    const char *cinit[32];          /* capture k's start */
    ptrdiff_t clen[32];             /* its length, or PAT_UNFINISHED / PAT_POSITION */
    double steps, limit;
    int stop;                       /* PAT_OVER or PAT_ERROR: every level gives up */
} pat_state;

static const char *pat_match(pat_state *ms, const char *s, const char *p);

/* Adds n steps: 0 (and every level gives up) once over the limit. */
static int pat_charge(pat_state *ms, double n)
{
    ms->steps += n;
    if (ms->steps > ms->limit) {
        ms->stop = PAT_OVER;
        return 0;
    }
    return 1;
}

/* What reading the single-character item p..ep costs beyond its step: Lua
 * walks a set [...] byte by byte to find its end and again to try its members,
 * one step per 4 bytes (nothing for any other item). */
static double pat_item_cost(const char *p, const char *ep)
{
    return (double)((size_t)(ep - p) / 4);
}

static const char *pat_class_end(pat_state *ms, const char *p)
{
    if (p >= ms->p_end) {
        ms->stop = PAT_ERROR;
        return p;
    }
    if (*p++ == PAT_ESC) {
        if (p >= ms->p_end) {
            ms->stop = PAT_ERROR;
            return p;
        }
        return p + 1;
    }
    if (*(p - 1) == '[') {
        if (*p == '^')
            p++;
        do {
            if (p >= ms->p_end) {
                ms->stop = PAT_ERROR;
                return p;
            }
            if (*(p++) == PAT_ESC && p < ms->p_end)
                p++;
        } while (*p != ']');
        return p + 1;
    }
    return p;
}

static int pat_single_class(int c, int cl)
{
    int res;
    switch (cl | 0x20) {
    case 'a': res = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); break;
    case 'c': res = c < 32 || c == 127; break;
    case 'd': res = c >= '0' && c <= '9'; break;
    case 'g': res = c > 32 && c < 127; break;
    case 'l': res = c >= 'a' && c <= 'z'; break;
    case 'p': res = (c > 32 && c < 48) || (c > 57 && c < 65) || (c > 90 && c < 97) || (c > 122 && c < 127); break;
    case 's': res = c == ' ' || (c >= '\t' && c <= '\r'); break;
    case 'u': res = c >= 'A' && c <= 'Z'; break;
    case 'w': res = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); break;
    case 'x': res = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); break;
    case 'z': res = c == 0; break;                 /* deprecated, still read by Lua 5.4 and LuaJIT */
    default: return cl == c;
    }
    if (cl >= 'A' && cl <= 'Z')
        res = !res;
    return res;
}

static int pat_match_class(int c, const char *p, const char *ec)
{
    int sig = 1;
    if (*(p + 1) == '^') {
        sig = 0;
        p++;
    }
    while (++p < ec) {
        if (*p == PAT_ESC) {
            p++;
            if (pat_single_class(c, (unsigned char)*p))
                return sig;
        } else if (*(p + 1) == '-' && (p + 2 < ec)) {
            p += 2;
            if ((unsigned char)*(p - 2) <= c && c <= (unsigned char)*p)
                return sig;
        } else if ((unsigned char)*p == c) {
            return sig;
        }
    }
    return !sig;
}

static int pat_single(pat_state *ms, const char *s, const char *p, const char *ep)
{
    int c;
    if (s >= ms->src_end)
        return 0;
    c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case PAT_ESC: return pat_single_class(c, (unsigned char)*(p + 1));
    case '[': return pat_match_class(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

static const char *pat_balance(pat_state *ms, const char *s, const char *p)
{
    int b, e, cont = 1;
    if (p + 1 >= ms->p_end) {
        ms->stop = PAT_ERROR;
        return NULL;
    }
    if (s >= ms->src_end || *s != *p)
        return NULL;
    b = *p;
    e = *(p + 1);
    while (++s < ms->src_end) {
        ms->steps++;
        if (*s == e) {
            if (--cont == 0)
                return s + 1;
        } else if (*s == b) {
            cont++;
        }
    }
    return NULL;
}

static const char *pat_max_expand(pat_state *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t i = 0;
    double each = 1 + pat_item_cost(p, ep);
    while (pat_single(ms, s + i, p, ep)) {
        i++;
        if (!pat_charge(ms, each))
            return NULL;
    }
    while (i >= 0 && !ms->stop) {
        const char *res = pat_match(ms, s + i, ep + 1);
        if (res)
            return res;
        i--;
    }
    return NULL;
}

static const char *pat_min_expand(pat_state *ms, const char *s, const char *p, const char *ep)
{
    double each = 1 + pat_item_cost(p, ep);
    for (;;) {
        const char *res = pat_match(ms, s, ep + 1);
        if (res != NULL)
            return res;
        if (ms->stop || !pat_charge(ms, each) || !pat_single(ms, s, p, ep))
            return NULL;
        s++;
    }
}

static const char *pat_start_capture(pat_state *ms, const char *s, const char *p, int position)
{
    const char *res;
    if (ms->level >= 32) {
        ms->stop = PAT_ERROR;
        return NULL;
    }
    ms->cinit[ms->level] = s;
    ms->clen[ms->level] = position ? PAT_POSITION : PAT_UNFINISHED;
    ms->level++;
    if ((res = pat_match(ms, s, p)) == NULL)
        ms->level--;
    return res;
}

static const char *pat_end_capture(pat_state *ms, const char *s, const char *p)
{
    int l;
    const char *res;
    for (l = ms->level - 1; l >= 0; l--)
        if (ms->clen[l] == PAT_UNFINISHED)
            break;
    if (l < 0) {
        ms->stop = PAT_ERROR;
        return NULL;
    }
    ms->clen[l] = s - ms->cinit[l];
    if ((res = pat_match(ms, s, p)) == NULL)
        ms->clen[l] = PAT_UNFINISHED;
    return res;
}

/* A back reference %1-%9: the capture's text again at s. */
static const char *pat_back_reference(pat_state *ms, const char *s, int l)
{
    size_t len;
    l -= '1';
    if (l < 0 || l >= ms->level || ms->clen[l] == PAT_UNFINISHED) {
        ms->stop = PAT_ERROR;
        return NULL;
    }
    if (ms->clen[l] == PAT_POSITION)
        return NULL;            /* Lua reads a position's length as (size_t)-2: it never matches */
    len = (size_t)ms->clen[l];
    ms->steps += (double)len;
    if ((size_t)(ms->src_end - s) >= len && memcmp(ms->cinit[l], s, len) == 0)
        return s + len;
    return NULL;
}

static const char *pat_match(pat_state *ms, const char *s, const char *p)
{
    if (ms->stop)
        return NULL;
    if (++ms->steps > ms->limit) {
        ms->stop = PAT_OVER;
        return NULL;
    }
    if (ms->depth-- == 0) {                         /* "pattern too complex" */
        ms->stop = PAT_ERROR;
        return NULL;
    }
    while (p != ms->p_end) {
        if (!pat_charge(ms, 1)) {                   /* each item read, as each call */
            s = NULL;
            goto done;
        }
        switch (*p) {
        case '(':
            if (*(p + 1) == ')')
                s = pat_start_capture(ms, s, p + 2, 1);
            else
                s = pat_start_capture(ms, s, p + 1, 0);
            goto done;
        case ')':
            s = pat_end_capture(ms, s, p + 1);
            goto done;
        case '$':
            if (p + 1 != ms->p_end)
                goto dflt;
            s = (s == ms->src_end) ? s : NULL;
            goto done;
        case PAT_ESC:
            switch (*(p + 1)) {
            case 'b':
                s = pat_balance(ms, s, p + 2);
                if (s != NULL) {
                    p += 4;
                    continue;
                }
                goto done;
            case 'f': {
                const char *ep;
                int prev, cur;
                p += 2;
                if (p >= ms->p_end || *p != '[') {
                    ms->stop = PAT_ERROR;
                    s = NULL;
                    goto done;
                }
                ep = pat_class_end(ms, p);
                if (ms->stop || !pat_charge(ms, 3 * pat_item_cost(p, ep))) {   /* its end, two tries */
                    s = NULL;
                    goto done;
                }
                prev = (s == ms->src_init) ? '\0' : (unsigned char)*(s - 1);
                cur = (s < ms->src_end) ? (unsigned char)*s : '\0';
                if (!pat_match_class(prev, p, ep - 1) && pat_match_class(cur, p, ep - 1)) {
                    p = ep;
                    continue;
                }
                s = NULL;
                goto done;
            }
            case '0': case '1': case '2': case '3': case '4':
            case '5': case '6': case '7': case '8': case '9':
                s = pat_back_reference(ms, s, (unsigned char)*(p + 1));
                if (s != NULL) {
                    p += 2;
                    continue;
                }
                goto done;
            default:
                goto dflt;
            }
        default:
        dflt: {
            const char *ep = pat_class_end(ms, p);
            if (ms->stop || !pat_charge(ms, pat_item_cost(p, ep))) {
                s = NULL;
                goto done;
            }
            if (!pat_single(ms, s, p, ep)) {
                if (CC_PATTERN_LUA51 && (*ep == '*' || *ep == '-')) {
                    s = *ep == '*' ? pat_max_expand(ms, s, p, ep) : pat_min_expand(ms, s, p, ep);
                    goto done;
                }
                if (*ep == '*' || *ep == '?' || *ep == '-') {
                    p = ep + 1;
                    continue;
                }
                s = NULL;
            } else {
                switch (*ep) {
                case '?': {
                    const char *res = pat_match(ms, s + 1, ep + 1);
                    if (res != NULL) {
                        s = res;
                    } else {
                        p = ep + 1;
                        continue;
                    }
                    break;
                }
                case '+':
                    s = pat_max_expand(ms, s + 1, p, ep);
                    break;
                case '*':
                    s = pat_max_expand(ms, s, p, ep);
                    break;
                case '-':
                    s = pat_min_expand(ms, s, p, ep);
                    break;
                default:
                    s++;
                    p = ep;
                    continue;
                }
            }
            goto done;
        }
        }
    }
done:
    ms->depth++;
    return s;
}

/* The steps of a plain search of p in s: each candidate position and each
 * byte compared there (memchr's scan counted as a step per 16 bytes). */
static double pat_plain_cost(const char *s, size_t ls, const char *p, size_t lp, double limit)
{
    double steps = 0;
    const char *init = s, *end;
    if (lp == 0)
        return 1;
    if (lp > ls)
        return 1;
    end = s + (ls - lp) + 1;
    while (init < end && steps <= limit) {
        const char *c = memchr(init, *p, (size_t)(end - init));
        size_t k = 1;
        if (c == NULL) {
            steps += (double)(end - init) / 16;
            break;
        }
        steps += (double)(c - init) / 16 + 1;
        while (k < lp && c[k] == p[k])
            k++;
        steps += (double)k;
        if (k == lp)
            break;
        init = c + 1;
    }
    return steps;
}

/* Whether p (with its embedded NULs) holds none of the pattern specials: a
 * find is then a plain search (lstrlib's nospecials). */
static int pat_nospecials(const char *p, size_t lp)
{
    size_t upto = 0;
    do {
        if (strpbrk(p + upto, PAT_SPECIALS))
            return 0;
        upto += strlen(p + upto) + 1;
    } while (upto <= lp);
    return 1;
}

/* The 1-based position a search from init starts at in a subject of ls bytes,
 * as Lua 5.4 reads init (negative: from the end); ls + 2 when past the end.
 * An init the real function refuses (NaN, a fraction, out of range: it raises)
 * is read so that no pointer leaves the subject: NaN as 1. */
static size_t pat_start(double init, size_t ls)
{
    if (init < 0)
        init = (double)ls + init + 1;
    if (!(init >= 1))                               /* also NaN */
        return 1;
    if (init > (double)ls + 1)
        return ls + 2;
    return (size_t)init;
}

/* Set ms up for a search of pattern *p (lp bytes) in s (ls bytes): a leading
 * '^' anchors where caret_anchors (not in gmatch) and is skipped; LuaJIT reads
 * the pattern up to its first NUL. Returns whether the search is anchored. */
static int pat_begin(pat_state *ms, const char *s, size_t ls, const char **p, size_t lp, int caret_anchors,
                     double limit)
{
    int anchor = caret_anchors && lp > 0 && **p == '^';
    memset(ms, 0, sizeof *ms);
    ms->src_init = s;
    ms->src_end = s + ls;
    ms->limit = limit;
    if (anchor) {
        (*p)++;
        lp--;
    }
    if (CC_PATTERN_LUA51)
        lp = strlen(*p);
    ms->p_end = *p + lp;
    return anchor;
}

/* One attempt of the pattern at src, from a clean capture state. */
static const char *pat_try(pat_state *ms, const char *src, const char *p)
{
    ms->level = 0;
    ms->depth = PAT_MAXDEPTH;
    return pat_match(ms, src, p);
}

/* The steps of kind ("find", "match", "gmatch" or "gsub": a search from each
 * position, or every match of the subject for gmatch and gsub) with pattern p on
 * s from the 1-based init, or limit + 1 once over limit. */
double pattern_cost(const char *kind, const char *s, size_t ls, const char *p, size_t lp, double init, int plain,
                    double limit)
{
    pat_state ms;
    const char *src, *last = NULL;
    int anchor, every = kind[0] == 'g';            /* gmatch and gsub go through the whole subject */
    size_t start = pat_start(init, ls);
    if (start > ls + 1)
        return 1;
    src = s + start - 1;
    if (kind[0] == 'f' && (plain || pat_nospecials(p, lp)))
        return pat_plain_cost(src, ls - (start - 1), p, lp, limit);
    anchor = pat_begin(&ms, s, ls, &p, lp, kind[1] != 'm', limit);  /* in gmatch '^' is no anchor */
    for (;;) {
        const char *e = pat_try(&ms, src, p);
        if (ms.stop)
            break;
        if (e != NULL && !every)
            break;
        if (e != NULL && e != last) {
            src = last = e;
        } else if (src < ms.src_end) {
            src++;
            ms.steps++;
        } else {
            break;
        }
        if (anchor || ms.steps > limit)
            break;
    }
    return ms.steps > limit ? limit + 1 : ms.steps;
}

/* steps | false = _pattern_cost(kind, s, p, init, plain, limit): pattern_cost
 * for Lua (the allow list's *_pattern matchers are checked with it). */
static int pattern_cost_lua(lua_State *L)
{
    size_t ls, lp;
    const char *kind = luaL_checkstring(L, 1);
    const char *s = luaL_checklstring(L, 2, &ls);
    const char *p = luaL_checklstring(L, 3, &lp);
    double init = luaL_optnumber(L, 4, 1);
    int plain = lua_toboolean(L, 5);
    double limit = luaL_checknumber(L, 6);
    double steps = pattern_cost(kind, s, ls, p, lp, init, plain, limit);
    if (steps > limit)
        lua_pushboolean(L, 0);
    else
        lua_pushnumber(L, steps);
    return 1;
}

/* start, end, captures... | nil | false, "error" | false, "limit" =
 * _pattern_find(s, p[, init[, limit]]): what the matcher above finds, as
 * string.find with a pattern (never plain) returns it, or "error" where the
 * real function raises (a malformed or too complex pattern, an unfinished
 * capture), "limit" past limit steps (default 1e7). For specs: the matcher's
 * verdicts against the interpreter's. */
static int pattern_find_lua(lua_State *L)
{
    size_t ls, lp, start;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    double init = luaL_optnumber(L, 3, 1);
    pat_state ms;
    const char *src;
    int anchor, l;
    double limit = luaL_optnumber(L, 4, 1e7);
    start = pat_start(init, ls);
    if (start > ls + 1) {
        lua_pushnil(L);
        return 1;
    }
    src = s + start - 1;
    anchor = pat_begin(&ms, s, ls, &p, lp, 1, limit);
    for (;;) {
        const char *e = pat_try(&ms, src, p);
        if (ms.stop) {
            lua_pushboolean(L, 0);
            lua_pushstring(L, ms.stop == PAT_OVER ? "limit" : "error");
            return 2;
        }
        if (e != NULL) {
            luaL_checkstack(L, ms.level + 2, NULL);
            lua_pushinteger(L, (lua_Integer)(src - s) + 1);
            lua_pushinteger(L, (lua_Integer)(e - s));
            for (l = 0; l < ms.level; l++) {
                if (ms.clen[l] == PAT_UNFINISHED) {
                    lua_settop(L, 0);
                    lua_pushboolean(L, 0);
                    lua_pushstring(L, "error");
                    return 2;
                }
                if (ms.clen[l] == PAT_POSITION)
                    lua_pushinteger(L, (lua_Integer)(ms.cinit[l] - s) + 1);
                else
                    lua_pushlstring(L, ms.cinit[l], (size_t)ms.clen[l]);
            }
            return ms.level + 2;
        }
        if (anchor || src >= ms.src_end)
            break;
        src++;
    }
    lua_pushnil(L);
    return 1;
}

int pattern_open(lua_State *L)
{
    lua_pushcfunction(L, pattern_find_lua);                     /* M, fn */
    lua_setfield(L, -2, "_pattern_find");                       /* M */
    lua_pushcfunction(L, pattern_cost_lua);                     /* M, fn */
    lua_setfield(L, -2, "_pattern_cost");                       /* M */
    return 0;
}
