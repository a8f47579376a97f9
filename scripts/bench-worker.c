/* bench-worker: a tiny HTTP/1.1 worker for scripts/bench, compiled with gcc at bench time.
 *
 * It answers every request with "ok\n" (keep-alive, Content-Length) as soon as it can: it is the worker that
 * "answers nearly instantly" of the cold-start benchmark, and light enough to run a thousand copies for the scale
 * benchmark. Listens on fd 3 when LISTEN_FDS=1 and LISTEN_PID is its pid (socket activation, as clusterd's
 * listen-fds readiness and systemd-socket-activate pass it), else binds 127.0.0.1:$PORT. Single-threaded poll(2)
 * loop; ignores request bodies (the benchmarks send none). SIGTERM's default action ends it.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 1024

static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n";
static struct pollfd fds[MAXC];
static int used[MAXC];
static char bufs[MAXC][8192]; /* each connection's unanswered bytes; untouched pages cost no memory */

static int listener(void) {
    const char *n = getenv("LISTEN_FDS"), *p = getenv("LISTEN_PID");
    if (n && p && atoi(n) >= 1 && atoi(p) == (int)getpid()) return 3;
    const char *port = getenv("PORT");
    if (!port) { fprintf(stderr, "bench-worker: no LISTEN_FDS and no PORT\n"); exit(2); }
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(port)), .sin_addr.s_addr = htonl(0x7f000001)};
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4096)) { perror("bench-worker: bind"); exit(1); }
    return s;
}

int main(void) {
    int nfds = 1;
    fds[0].fd = listener();
    fcntl(fds[0].fd, F_SETFL, fcntl(fds[0].fd, F_GETFL) | O_NONBLOCK);
    fds[0].events = POLLIN;
    for (;;) {
        if (poll(fds, nfds, -1) < 0) continue;
        if (fds[0].revents & POLLIN) {
            int c;
            while (nfds < MAXC && (c = accept4(fds[0].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                int one = 1;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                fds[nfds].fd = c;
                fds[nfds].events = POLLIN;
                fds[nfds].revents = 0;
                used[nfds++] = 0;
            }
        }
        for (int i = 1; i < nfds; i++) {
            if (!fds[i].revents) continue;
            char *buf = bufs[i];
            ssize_t r = read(fds[i].fd, buf + used[i], sizeof bufs[i] - 1 - used[i]);
            if (r <= 0) {
                close(fds[i].fd);
                fds[i] = fds[--nfds];
                used[i] = used[nfds];
                memcpy(bufs[i], bufs[nfds], used[i]);
                i--;
                continue;
            }
            used[i] += r;
            buf[used[i]] = 0;
            char *at = buf, *end; /* answer every complete head; keep a partial one */
            while ((end = strstr(at, "\r\n\r\n"))) {
                if (write(fds[i].fd, reply, sizeof reply - 1) < 0) break;
                at = end + 4;
            }
            used[i] = (int)(buf + used[i] - at);
            memmove(buf, at, used[i]);
            if (used[i] == sizeof bufs[i] - 1) used[i] = 0; /* a head too large: drop it */
        }
    }
}
