#ifndef C_SYSTEMD_H
#define C_SYSTEMD_H

#include <sys/types.h>
#include <systemd/sd-daemon.h>
// clusterd sends its own CODE_FILE/CODE_LINE/CODE_FUNC: keep sd_journal_sendv the plain function, not the macro
// that would add the C caller's location.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

/// Opens the datagram socket workers send `sd_notify` messages to (NOTIFY_SOCKET), bound at `path`
/// (a leading '@' means the abstract namespace), with SO_PASSCRED so each message carries its sender's pid.
/// Non-blocking and close-on-exec. Returns the fd, or -1 with errno.
int csd_notify_server_open(const char *path);

/// Receives one notify datagram into `buffer` (NUL-terminated, truncated to `capacity - 1`) and the
/// sender's pid and uid from SCM_CREDENTIALS. File descriptors sent along (FDSTORE=1) are closed: clusterd
/// keeps no fds for workers. Returns the length, 0 with `*pid` = 0 for a datagram without credentials,
/// or -1 with errno (EAGAIN when nothing is queued).
ssize_t csd_notify_receive(int fd, char *buffer, size_t capacity, pid_t *pid, uid_t *uid);

#endif
