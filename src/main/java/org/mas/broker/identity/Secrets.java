package org.mas.broker.identity;

import java.security.SecureRandom;
import java.util.Base64;

import org.springframework.security.crypto.bcrypt.BCrypt;

/**
 * Agent secrets: 32 random bytes, base64url; stored only as a bcrypt hash (salted, slow), through Spring Security's
 * BCrypt class. bcrypt reads at most 72 bytes of a secret: a generated one has 43.
 */
public final class Secrets {

    public static final int DEFAULT_COST = 12;
    /** bcrypt hashes that configuration accepts: $2a$, $2b$ or $2y$, cost, 53 characters of salt and hash. */
    public static final java.util.regex.Pattern BCRYPT_HASH = java.util.regex.Pattern.compile("^\\$2[aby]\\$\\d{2}\\$[./A-Za-z0-9]{53}$");

    private static final SecureRandom RANDOM = new SecureRandom();

    private Secrets() {
    }

    public static String newSecret() {
        byte[] bytes = new byte[32];
        RANDOM.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    public static String hash(String secret, int cost) {
        return BCrypt.hashpw(secret, BCrypt.gensalt(cost, RANDOM));
    }

    /**
     * A well-formed bcrypt hash of cost {@code cost} that no secret is known to match (a fresh salt, random hash
     * characters): checking a secret against it costs one full bcrypt, like a real one, without the bcrypt that making
     * a real hash would cost (a quarter of a second at cost 12, at every start).
     */
    public static String decoyHash(int cost) {
        String alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder hash = new StringBuilder(BCrypt.gensalt(cost, RANDOM)); // $2a$<cost>$ and 22 characters of salt
        for (int i = 0; i < 31; i++) {
            hash.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
        }
        return hash.toString();
    }

    /** True if {@code secret} matches {@code hash}; false for a null or malformed hash (never an exception). */
    public static boolean matches(String secret, String hash) {
        if (secret == null || hash == null || !BCRYPT_HASH.matcher(hash).matches()) {
            return false;
        }
        try {
            return BCrypt.checkpw(secret, hash);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }
}
