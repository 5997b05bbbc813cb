package org.mas.broker.queues;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What a refused login's user name becomes in the log: one line, bounded, whatever the client sent. */
class AgentSecurityManagerTest {

    @Test
    void aUserNameIsLoggedOnOneLineAndBounded() {
        // STOMP 1.2 decodes "\n" in a header value to a line feed: a login could forge log lines
        String forged = "x\n12:00:00.000 INFO  [main] AgentRegistry - Agent planner registered\r\u0000" + "y".repeat(300);
        String logged = AgentSecurityManager.printable(forged);
        assertThat(logged).doesNotContain("\n", "\r", "\u0000").startsWith("x?12:00").endsWith("...").hasSize(103);
        assertThat(AgentSecurityManager.printable("worker-1")).isEqualTo("worker-1");
    }
}
