/* sysio.c: what clientcert takes from the system besides directories (dir.c):
 * bounded file reads, and whether an output is a terminal.
 *
 *   data, err = core.read_file(path, limit[, where])
 *   yes = core.isatty(fd)                  -- is file descriptor fd a terminal?
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "clientcert.h"

#define SYSIO_FD_MT "clientcert.fd"

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

/* isatty(fd): true when the file descriptor (an integer: 1 for stdout, 2 for
 * stderr) is a terminal; false for anything else, including a bad descriptor.
 * The CLI colours its output and draws progress only on a terminal. */
static int sysio_isatty(lua_State *L)
{
    lua_Integer fd = luaL_checkinteger(L, 1);
    lua_pushboolean(L, fd >= 0 && fd <= 1024 && isatty((int)fd) == 1);
    return 1;
}


int sysio_open(lua_State *L)
{
    static const luaL_Reg meta[] = { { "__gc", sysio_fd_gc }, { NULL, NULL } };
    static const luaL_Reg fns[] = {
        { "read_file", sysio_read_file },
        { "isatty", sysio_isatty },
        { NULL, NULL },
    };
    cc_new_class(L, SYSIO_FD_MT, meta, NULL);             /* M */
    luaL_setfuncs(L, fns, 0);
    return 0;
}
