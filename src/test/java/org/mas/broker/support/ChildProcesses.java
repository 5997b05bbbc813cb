package org.mas.broker.support;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Ends the processes a test or a benchmark starts (the packaged jar, jcmd, wrk), for a {@code finally} block: whatever
 * happened before, nothing is left running. The kill goes to the child's own pid and to its descendants (handles taken
 * from the JDK, which checks a pid's start time, so a reused pid is never hit), then waits for each to be gone.
 */
public final class ChildProcesses {

    /** How long a SIGKILLed process may take to be reaped before a warning. */
    private static final Duration AFTER_KILL = Duration.ofSeconds(30);

    private ChildProcesses() {
    }

    /**
     * SIGTERM, up to {@code grace} for the process to stop by itself, then SIGKILL to it and its descendants (even if
     * it stopped: a descendant may not have), waiting for them to be gone.
     *
     * @return whether it stopped by itself within {@code grace}, e.g. for a test of the orderly shutdown
     */
    public static boolean stop(Process process, Duration grace) {
        List<ProcessHandle> descendants = process.descendants().toList();
        boolean stopped = false;
        boolean interrupted = false;
        try {
            process.destroy();
            stopped = process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            interrupted = true; // still kill it, below
        } finally {
            kill(process, descendants);
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        return stopped;
    }

    /**
     * SIGKILL at once to the process and its descendants, waiting for them to be gone.
     *
     * @return whether all are gone
     */
    public static boolean kill(Process process) {
        boolean gone = kill(process, process.descendants().toList());
        return gone && !process.isAlive();
    }

    /** @return whether all are gone; an interrupt during the wait is kept (the flag is set again) */
    private static boolean kill(Process process, List<ProcessHandle> descendants) {
        process.destroyForcibly();
        descendants.forEach(ProcessHandle::destroyForcibly);
        boolean gone = true;
        boolean interrupted = false;
        for (int attempt = 0; attempt < 2; attempt++) { // once more if interrupted: the interrupt is cleared then
            try {
                gone = process.waitFor(AFTER_KILL.toMillis(), TimeUnit.MILLISECONDS);
                for (ProcessHandle descendant : descendants) {
                    gone &= descendant.onExit().get(AFTER_KILL.toMillis(), TimeUnit.MILLISECONDS) != null;
                }
                break;
            } catch (InterruptedException e) {
                interrupted = true; // the flag is clear now: wait once more
                gone = false;
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                gone = false;
                break;
            }
        }
        if (!gone) {
            System.err.printf("child process %d (or a descendant) still alive %s after SIGKILL%n", process.pid(), AFTER_KILL);
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return gone;
    }
}
