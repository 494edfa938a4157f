/* sysio.c: what clientcert takes from the system: bounded file reads and the
 * one calendar (proleptic Gregorian, UTC) that every date in clientcert goes
 * through (certificate times, the catalogue's messages, the CLI's --time).
 *
 *   data, err = core.read_file(path, limit[, where])
 *   text, err = core.time_format(secs)     -- "YYYY-MM-DDTHH:MM:SSZ", years 0000 .. 9999
 *   secs, err = core.time_parse(text)      -- "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ"
 *   yes = core.isatty(fd)                  -- is file descriptor fd a terminal?
 *   list, err = core.list_dir(path[, limit[, where]])  -- one directory's entries (lstat)
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clientcert.h"

#define SYSIO_FD_MT "clientcert.fd"
#define SYSIO_DIR_MT "clientcert.dir"

/* ---- bounded reads ---------------------------------------------------- */

typedef struct { int fd; } sysio_fd_box;          /* owns fd while fd >= 0 */

static void sysio_close(sysio_fd_box *box)
{
    if (box->fd >= 0) {
        close(box->fd);
        box->fd = -1;
    }
}

/* __gc of the box: closes the descriptor when a Lua error (out of memory while
 * the buffer grows) leaves read_file before its own close. */
static int sysio_fd_gc(lua_State *L)
{
    sysio_close((sysio_fd_box *)luaL_checkudata(L, 1, SYSIO_FD_MT));
    return 0;
}

/* "a directory", "a FIFO", ... for a file type that is not a regular file. */
static const char *sysio_kind(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
#ifdef S_ISSOCK
    if (S_ISSOCK(m))
        return "a socket";
#endif
    return "not a file";
}

/* Pushes nil, "clientcert.<where>: <path>: larger than <limit>". Returns 2. */
static int sysio_too_large(lua_State *L, const char *where, const char *path, lua_Integer limit)
{
    lua_pushnil(L);
    if (limit >= 1048576 && limit % 1048576 == 0)
        lua_pushfstring(L, "clientcert.%s: %s: larger than %d MiB", where, path, (int)(limit / 1048576));
    else if (limit >= 1024 && limit % 1024 == 0)
        lua_pushfstring(L, "clientcert.%s: %s: larger than %d KiB", where, path, (int)(limit / 1024));
    else
        lua_pushfstring(L, "clientcert.%s: %s: larger than %d bytes", where, path, (int)limit);
    return 2;
}

static int sysio_not_regular(lua_State *L, const char *where, const char *path, mode_t m)
{
    lua_pushnil(L);
    lua_pushfstring(L, "clientcert.%s: %s: not a regular file (%s)", where, path, sysio_kind(m));
    return 2;
}

/* read_file(path, limit[, where]): the whole regular file at path, at most
 * limit bytes (0 .. 1 GiB), or nil, "clientcert.<where>: <path>: <what>".
 * Never blocks on a FIFO (opened O_NONBLOCK, then refused), never reads a
 * device, a directory or a socket, and never reads past limit + 1 bytes
 * whatever st_size says (/proc files report 0, a file may grow). */
static int sysio_read_file(lua_State *L)
{
    size_t plen;
    const char *path = cc_checkbytes(L, 1, &plen);
    lua_Integer limit = luaL_checkinteger(L, 2);
    const char *where = luaL_optstring(L, 3, "read_file");
    sysio_fd_box *box;
    struct stat st;
    luaL_Buffer b;
    lua_Integer total = 0;
    int fd, err;

    luaL_argcheck(L, limit >= 0 && limit <= 1073741824, 2, "limit must be 0 .. 1 GiB");
    if (strlen(path) != plen) {
        lua_pushnil(L);
        lua_pushfstring(L, "clientcert.%s: path contains a NUL byte", where);
        return 2;
    }
    /* refuse what is not a regular file without opening it (opening a device
     * can have effects); fstat below closes the race with a renamed file */
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return sysio_not_regular(L, where, path, st.st_mode);

    box = (sysio_fd_box *)cc_newuserdata(L, sizeof(*box));   /* box */
    box->fd = -1;
    luaL_setmetatable(L, SYSIO_FD_MT);
    do {
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        err = errno;
        lua_pushnil(L);
        lua_pushfstring(L, "clientcert.%s: cannot open %s: %s", where, path, strerror(err));
        return 2;
    }
    box->fd = fd;
    if (fstat(fd, &st) != 0) {
        err = errno;
        sysio_close(box);
        lua_pushnil(L);
        lua_pushfstring(L, "clientcert.%s: cannot read %s: %s", where, path, strerror(err));
        return 2;
    }
    if (!S_ISREG(st.st_mode)) {
        sysio_close(box);
        return sysio_not_regular(L, where, path, st.st_mode);
    }
    if ((lua_Integer)st.st_size > limit) {
        sysio_close(box);
        return sysio_too_large(L, where, path, limit);
    }

    luaL_buffinit(L, &b);                                   /* box, [buffer] */
    for (;;) {
        char *p = luaL_prepbuffer(&b);
        size_t want = LUAL_BUFFERSIZE;
        ssize_t n;

        if ((lua_Integer)want > limit + 1 - total)          /* read at most limit + 1 */
            want = (size_t)(limit + 1 - total);
        n = read(fd, p, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = errno;
            sysio_close(box);
            lua_pushnil(L);
            lua_pushfstring(L, "clientcert.%s: cannot read %s: %s", where, path, strerror(err));
            return 2;
        }
        if (n == 0)
            break;
        luaL_addsize(&b, (size_t)n);
        total += (lua_Integer)n;
        if (total > limit) {
            sysio_close(box);
            return sysio_too_large(L, where, path, limit);
        }
    }
    sysio_close(box);
    luaL_pushresult(&b);                                    /* box, data */
    return 1;
}

/* ---- the calendar ----------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
long long cc_days_from_civil(long long y, int m, int d)
{
    long long era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The date of a day count since 1970-01-01 (H. Hinnant's civil_from_days). */
static void sysio_civil_from_days(long long z, long long *y, int *m, int *d)
{
    long long era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int sysio_days_in_month(long long y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : days[m - 1];
}

/* time_format(secs): "YYYY-MM-DDTHH:MM:SSZ" for integer Unix seconds in
 * CC_MIN_DATE .. CC_MAX_TIME (years 0000 .. 9999: a certificate may carry a
 * date before 1970); nil, err for another number; raises for a non-number. */
static int sysio_time_format(lua_State *L)
{
    lua_Number v;
    long long secs, days, y;
    int m, d, rem;
    char out[32];

    luaL_checktype(L, 1, LUA_TNUMBER);                 /* no string coercion */
    v = lua_tonumber(L, 1);
    if (!(v >= (lua_Number)CC_MIN_DATE && v <= (lua_Number)CC_MAX_TIME) || v != (lua_Number)(long long)v) {
        lua_pushnil(L);
        lua_pushliteral(L, "clientcert.time_format: time must be an integer between "
                           "-62167219200 (0000-01-01) and 253402300799 (9999-12-31T23:59:59Z)");
        return 2;
    }
    secs = (long long)v;
    days = secs / 86400;
    rem = (int)(secs % 86400);
    if (rem < 0) {                           /* floor division for dates before 1970 */
        rem += 86400;
        days -= 1;
    }
    sysio_civil_from_days(days, &y, &m, &d);
    snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, m, d,
             rem / 3600, rem % 3600 / 60, rem % 60);          /* y is 0 .. 9999 */
    lua_pushstring(L, out);
    return 1;
}

/* Reads n decimal digits at s; -1 when one is not a digit. */
static long long sysio_digits(const char *s, int n)
{
    long long v = 0;
    int i;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* time_parse(text): Unix seconds of "YYYY-MM-DD" (midnight UTC) or
 * "YYYY-MM-DDTHH:MM:SSZ", exactly those forms, a real calendar date (no
 * 02-31, no leap second) within 1970-01-01 .. 9999-12-31T23:59:59Z;
 * nil, "clientcert.time_parse: <what>" otherwise. */
static int sysio_time_parse(lua_State *L)
{
    size_t len;
    const char *s = cc_checkbytes(L, 1, &len);
    long long y, mo, d, h = 0, mi = 0, sec = 0, secs;

    if (!(len == 10 || (len == 20 && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == 'Z'))
        || s[4] != '-' || s[7] != '-') {
        lua_pushnil(L);
        lua_pushliteral(L, "clientcert.time_parse: not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
        return 2;
    }
    y = sysio_digits(s, 4);
    mo = sysio_digits(s + 5, 2);
    d = sysio_digits(s + 8, 2);
    if (len == 20) {
        h = sysio_digits(s + 11, 2);
        mi = sysio_digits(s + 14, 2);
        sec = sysio_digits(s + 17, 2);
    }
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "clientcert.time_parse: not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
        return 2;
    }
    if (mo < 1 || mo > 12) {
        lua_pushnil(L);
        lua_pushfstring(L, "clientcert.time_parse: there is no month %d", (int)mo);
        return 2;
    }
    if (d < 1 || d > sysio_days_in_month(y, (int)mo)) {
        char msg[64];
        snprintf(msg, sizeof(msg), "clientcert.time_parse: %04d-%02d has no day %d", (int)y, (int)mo, (int)d);
        lua_pushnil(L);
        lua_pushstring(L, msg);
        return 2;
    }
    if (h > 23 || mi > 59 || sec > 59) {
        lua_pushnil(L);
        lua_pushliteral(L, "clientcert.time_parse: the time of day must be 00:00:00 .. 23:59:59");
        return 2;
    }
    secs = cc_days_from_civil(y, (int)mo, (int)d) * 86400 + h * 3600 + mi * 60 + sec;
    if (secs < 0 || secs > CC_MAX_TIME) {
        lua_pushnil(L);
        lua_pushliteral(L, "clientcert.time_parse: not within 1970-01-01 .. 9999-12-31");
        return 2;
    }
    lua_pushinteger(L, (lua_Integer)secs);
    return 1;
}

/* isatty(fd): true when the file descriptor (an integer: 1 for stdout, 2 for
 * stderr) is a terminal; false for anything else, including a bad descriptor.
 * The CLI colours its output and draws progress only on a terminal. */
static int sysio_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    lua_pushboolean(L, fd >= 0 && fd <= 1024 && isatty((int)fd) == 1);
    return 1;
}


/* ---- directory listing ------------------------------------------------ */

typedef struct { DIR *dir; } sysio_dir_box;       /* owns dir while dir != NULL */

static int sysio_dir_gc(lua_State *L)
{
    sysio_dir_box *box = (sysio_dir_box *)luaL_checkudata(L, 1, SYSIO_DIR_MT);
    if (box->dir != NULL) {
        closedir(box->dir);
        box->dir = NULL;
    }
    return 0;
}

/* "file", "dir", "link" or "other" for a file type. */
static const char *sysio_type_name(mode_t m)
{
    if (S_ISREG(m))
        return "file";
    if (S_ISDIR(m))
        return "dir";
    if (S_ISLNK(m))
        return "link";
    return "other";
}

/* Pushes "dev:ino", the identity of the file st describes. */
static void sysio_push_id(lua_State *L, const struct stat *st)
{
    char id[48];
    snprintf(id, sizeof(id), "%llu:%llu", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
    lua_pushstring(L, id);
}

/* list_dir(path[, limit[, where]]): the entries of the directory at path, "."
 * and ".." left out, in the order the system gives them, as a list of
 *   { name = <entry name>, type = "file"|"dir"|"link"|"other" (lstat: a symbolic
 *     link is "link", never followed for type), target = "file"|"dir"|"other"
 *     (links only: what the link resolves to; absent when it dangles),
 *     id = "dev:ino" (the entry itself, or for a link what it resolves to;
 *     absent when that cannot be stat'ed) }.
 * At most limit entries (1 .. 2^24, default 1048576): a larger directory gives
 * nil, "clientcert.<where>: <path>: more than <limit> entries"; any other failure
 * nil, "clientcert.<where>: <path>: <strerror>", and path naming something that is
 * not a directory nil, "...: not a directory", "not_a_directory". Nothing is opened but
 * the directory itself: no file is read, no link is followed beyond a stat.
 * The recursion (and with it loop avoidance) is the caller's: with lstat types
 * a walker that descends only into "dir" entries never follows a link. */
static int sysio_list_dir(lua_State *L)
{
    size_t plen;
    const char *path = cc_checkbytes(L, 1, &plen);
    lua_Integer limit = luaL_optinteger(L, 2, 1048576);
    const char *where = luaL_optstring(L, 3, "list_dir");
    sysio_dir_box *box;
    struct dirent *ent;
    lua_Integer n = 0;
    int dfd, err;

    luaL_argcheck(L, limit >= 1 && limit <= 16777216, 2, "limit must be 1 .. 2^24");
    if (strlen(path) != plen) {
        lua_pushnil(L);
        lua_pushfstring(L, "clientcert.%s: path contains a NUL byte", where);
        return 2;
    }
    box = (sysio_dir_box *)cc_newuserdata(L, sizeof(*box));  /* box */
    box->dir = NULL;
    luaL_setmetatable(L, SYSIO_DIR_MT);
    box->dir = opendir(path);
    if (box->dir == NULL) {
        err = errno;
        lua_pushnil(L);
        if (err == ENOTDIR) {
            lua_pushfstring(L, "clientcert.%s: %s: not a directory", where, path);
            lua_pushliteral(L, "not_a_directory");
            return 3;
        }
        lua_pushfstring(L, "clientcert.%s: %s: %s", where, path, strerror(err));
        return 2;
    }
    dfd = dirfd(box->dir);
    lua_newtable(L);                                         /* box, list */
    for (;;) {
        struct stat st, target;
        errno = 0;
        ent = readdir(box->dir);                             /* borrowed from box->dir */
        if (ent == NULL) {
            if (errno != 0) {
                err = errno;
                closedir(box->dir);
                box->dir = NULL;
                lua_pushnil(L);
                lua_pushfstring(L, "clientcert.%s: %s: %s", where, path, strerror(err));
                return 2;
            }
            break;
        }
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        if (n >= limit) {
            closedir(box->dir);
            box->dir = NULL;
            lua_pushnil(L);
            lua_pushfstring(L, "clientcert.%s: %s: more than %d entries", where, path, (int)limit);
            return 2;
        }
        lua_createtable(L, 0, 4);                            /* box, list, e */
        lua_pushstring(L, ent->d_name);
        lua_setfield(L, -2, "name");
        if (fstatat(dfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            lua_pushliteral(L, "other");                     /* vanished meanwhile, or no access */
            lua_setfield(L, -2, "type");
        } else {
            lua_pushstring(L, sysio_type_name(st.st_mode));
            lua_setfield(L, -2, "type");
            if (S_ISLNK(st.st_mode)) {
                if (fstatat(dfd, ent->d_name, &target, 0) == 0) {
                    const char *t = sysio_type_name(target.st_mode);
                    lua_pushstring(L, t);
                    lua_setfield(L, -2, "target");
                    sysio_push_id(L, &target);
                    lua_setfield(L, -2, "id");
                }
            } else {
                sysio_push_id(L, &st);
                lua_setfield(L, -2, "id");
            }
        }
        lua_rawseti(L, -2, (int)++n);                        /* box, list */
    }
    closedir(box->dir);
    box->dir = NULL;
    return 1;
}

int sysio_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        { "read_file", sysio_read_file },
        { "time_format", sysio_time_format },
        { "time_parse", sysio_time_parse },
        { "isatty", sysio_isatty },
        { "list_dir", sysio_list_dir },
        { NULL, NULL },
    };
    luaL_newmetatable(L, SYSIO_FD_MT);                /* M, mt */
    lua_pushcfunction(L, sysio_fd_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);                                    /* M */
    luaL_newmetatable(L, SYSIO_DIR_MT);               /* M, mt */
    lua_pushcfunction(L, sysio_dir_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);                                    /* M */
    luaL_setfuncs(L, fns, 0);
    return 0;
}
