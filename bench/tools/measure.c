/* measure: runs a command and reports the resources it used.
 *
 *   measure OUTFILE COMMAND [ARGS...]
 *
 * Forks, executes COMMAND, waits for it and writes one JSON line to OUTFILE:
 * {"exit":N,"user_s":X,"sys_s":Y,"maxrss_kb":M}. Exits with COMMAND's status.
 *
 * Why a separate process: on Linux a process's peak RSS survives exec(), so a command started
 * directly by a large parent (the Python driver) would report the parent's size. Started by
 * this small program, its figure is its own. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: measure OUTFILE COMMAND [ARGS...]\n");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror("measure: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("measure: wait4");
        return 2;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE* out = fopen(argv[1], "w");
    if (!out) {
        perror("measure: open");
        return 2;
    }
    fprintf(out, "{\"exit\":%d,\"user_s\":%ld.%06ld,\"sys_s\":%ld.%06ld,\"maxrss_kb\":%ld}\n", code,
            (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec, (long)ru.ru_stime.tv_sec,
            (long)ru.ru_stime.tv_usec, ru.ru_maxrss);
    fclose(out);
    return code;
}
