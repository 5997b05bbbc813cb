package org.mas.broker.identity;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SecretsTest {

    @Test
    void theDecoyHashIsAWellFormedHashOfTheCostThatNoSecretMatches() {
        String decoy = Secrets.decoyHash(12);

        assertThat(decoy).matches(Secrets.BCRYPT_HASH).startsWith("$2a$12$");
        assertThat(Secrets.decoyHash(12)).isNotEqualTo(decoy);
        assertThat(Secrets.matches("", decoy)).isFalse();
        assertThat(Secrets.matches(Secrets.newSecret(), decoy)).isFalse();
    }

    @Test
    void checkingASecretAgainstTheDecoyTakesAFullBcryptLikeARealHash() {
        // an unknown agent id is checked against the decoy: the answer must take as long as for a known one
        int cost = 9;
        String real = Secrets.hash("the-secret", cost);
        String decoy = Secrets.decoyHash(cost);
        long realNanos = Long.MAX_VALUE;
        long decoyNanos = Long.MAX_VALUE;
        for (int i = 0; i < 7; i++) { // alternately, the fastest of each: other work on the machine slows both alike
            long t = System.nanoTime();
            Secrets.matches("wrong", real);
            realNanos = Math.min(realNanos, System.nanoTime() - t);
            t = System.nanoTime();
            Secrets.matches("wrong", decoy);
            decoyNanos = Math.min(decoyNanos, System.nanoTime() - t);
        }

        assertThat((double) decoyNanos / realNanos).isBetween(0.5, 2.0);
    }
}
