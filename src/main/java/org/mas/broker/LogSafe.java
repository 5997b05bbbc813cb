package org.mas.broker;

/**
 * Text from outside (a user name, an id, a path) made safe for one log line: control characters (newlines, NUL) and
 * lone surrogates as '?', at most {@code max} characters. One place for every log line that quotes a client.
 */
public final class LogSafe {

    private LogSafe() {
    }

    public static String printable(String text, int max) {
        if (text == null) {
            return null;
        }
        StringBuilder out = new StringBuilder(Math.min(text.length(), max) + 3);
        for (int i = 0; i < text.length() && i < max; i++) {
            char c = text.charAt(i);
            out.append(Character.isISOControl(c) || Character.isSurrogate(c) ? '?' : c);
        }
        return text.length() > max ? out.append("...").toString() : out.toString();
    }

    /** A JDBC URL without its password, for logs and error messages. */
    public static String withoutPassword(String url) {
        return url == null ? null : url.replaceAll("(?i)(password=)[^&;]*", "$1***");
    }
}
