package org.mas.broker.support;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * STOMP 1.2 over a plain or TLS socket, as a Python agent's stomp.py speaks it. Not thread-safe for writers; one
 * thread may read while another writes.
 */
public final class RawStomp implements AutoCloseable {

    public record Frame(String command, Map<String, String> headers, String body) {
    }

    private final Socket socket;
    private final OutputStream out;
    private final InputStream in;

    private RawStomp(Socket socket) throws IOException {
        this.socket = socket;
        this.out = new BufferedOutputStream(socket.getOutputStream(), 64 * 1024);
        this.in = new BufferedInputStream(socket.getInputStream(), 64 * 1024);
    }

    /** Connects and waits for CONNECTED. */
    public static RawStomp connect(int port) throws IOException {
        return connect(new Socket("127.0.0.1", port), null, null);
    }

    /** Speaks STOMP over a socket already connected (e.g. an SSLSocket) and waits for CONNECTED. */
    public static RawStomp connect(Socket socket) throws IOException {
        return connect(socket, null, null);
    }

    /** Connects with a login and passcode (none if null) and waits for CONNECTED; an IOException names any other answer. */
    public static RawStomp connect(int port, String login, String passcode) throws IOException {
        return connect(new Socket("127.0.0.1", port), login, passcode);
    }

    /** Over a socket already connected, with a login and passcode (none if null). */
    public static RawStomp connect(Socket socket, String login, String passcode) throws IOException {
        RawStomp stomp = new RawStomp(socket);
        stomp.socket.setSoTimeout(30_000);
        Map<String, String> headers = new LinkedHashMap<>(Map.of("accept-version", "1.2", "host", "localhost"));
        if (login != null) {
            headers.put("login", login);
            headers.put("passcode", passcode);
        }
        stomp.send("CONNECT", headers, null, true);
        Frame connected;
        try {
            connected = stomp.read();
        } catch (IOException e) {
            stomp.close();
            throw e;
        }
        if (!"CONNECTED".equals(connected.command())) {
            stomp.close();
            throw new IOException("STOMP CONNECT answered with " + connected);
        }
        return stomp;
    }

    /**
     * Writes one frame. Artemis makes a bytes message of a SEND that has a {@code content-length} header and a text
     * message of one without (whose body must then contain no NUL).
     */
    public void send(String command, Map<String, String> headers, String body, boolean flush) throws IOException {
        StringBuilder frame = new StringBuilder(command).append('\n');
        headers.forEach((k, v) -> frame.append(k).append(':').append(v).append('\n'));
        frame.append('\n');
        out.write(frame.toString().getBytes(StandardCharsets.UTF_8));
        if (body != null) {
            out.write(body.getBytes(StandardCharsets.UTF_8));
        }
        out.write(0);
        if (flush) {
            out.flush();
        }
    }

    public void flush() throws IOException {
        out.flush();
    }

    /** The next frame (heart-beat newlines skipped); throws at end of stream. */
    public Frame read() throws IOException {
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != 0) {
            if (b == -1) {
                throw new IOException("STOMP connection closed");
            }
            buffer.write(b);
        }
        String raw = buffer.toString(StandardCharsets.UTF_8).replaceFirst("^[\\r\\n]+", "");
        int split = raw.indexOf("\n\n");
        String head = split < 0 ? raw : raw.substring(0, split);
        String body = split < 0 ? "" : raw.substring(split + 2);
        String[] lines = head.split("\n");
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.putIfAbsent(lines[i].substring(0, colon), lines[i].substring(colon + 1));
            }
        }
        return new Frame(lines[0], headers, body);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
