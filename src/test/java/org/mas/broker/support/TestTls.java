package org.mas.broker.support;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A broker keystore made the way the docs tell an operator to make one, with the JDK's keytool: a self-signed key pair
 * for 127.0.0.1 and localhost in a PKCS12 file, its certificate exported (what curl --cacert, stomp.py and paho take),
 * and a client truststore holding only that certificate (what a Java client takes).
 */
public record TestTls(Path keystore, String password, Path certificate, Path truststore) {

    public static final String PASSWORD = "test-keystore-secret";

    /** Makes the three files in a new temporary directory, removed when the JVM exits. */
    public static TestTls generate() {
        try {
            Path dir = Files.createTempDirectory("mas-tls-test");
            TestTls tls = generate(dir);
            for (Path file : List.of(tls.keystore, tls.certificate, tls.truststore, dir)) {
                file.toFile().deleteOnExit();
            }
            return tls;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static TestTls generate(Path dir) throws IOException {
        Path keystore = dir.resolve("broker.p12");
        Path certificate = dir.resolve("broker.pem");
        Path truststore = dir.resolve("clients-truststore.p12");
        keytool("-genkeypair", "-alias", "mas-broker", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=localhost", "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", PASSWORD);
        keytool("-exportcert", "-rfc", "-alias", "mas-broker", "-keystore", keystore.toString(), "-storepass", PASSWORD,
                "-file", certificate.toString());
        keytool("-importcert", "-noprompt", "-alias", "mas-broker", "-file", certificate.toString(), "-storetype", "PKCS12",
                "-keystore", truststore.toString(), "-storepass", PASSWORD);
        return new TestTls(keystore, PASSWORD, certificate, truststore);
    }

    /** The settings that turn TLS on. */
    public Map<String, String> env() {
        return Map.of("MESSAGE_BROKER_SECURITY_TLS_KEYSTORE", keystore.toString(),
                "MESSAGE_BROKER_SECURITY_TLS_KEYSTORE_PASSWORD", password);
    }

    /** A client context that trusts the broker's certificate and nothing else. */
    public SSLContext clientContext() {
        return trusting(truststore, password);
    }

    /** Artemis core client URL parameters that trust the broker and check its host name against the certificate. */
    public String artemisClientParameters() {
        return "sslEnabled=true&verifyHost=true&trustStoreType=PKCS12&trustStorePath=" + truststore
                + "&trustStorePassword=" + password;
    }

    /** A client context trusting every certificate in {@code store} (a truststore, or the broker's keystore itself). */
    public static SSLContext trusting(Path store, String password) {
        try (InputStream in = Files.newInputStream(store)) {
            KeyStore trusted = KeyStore.getInstance("PKCS12");
            trusted.load(in, password.toCharArray());
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(trusted);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot trust " + store, e);
        }
    }

    private static void keytool(String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "keytool").toString());
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            String output = new String(process.getInputStream().readAllBytes());
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                throw new IOException("keytool " + String.join(" ", args) + " failed: " + output);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
