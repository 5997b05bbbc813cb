package org.mas.broker;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * What must be done once per transaction of several messages, just before it commits (exchange property
 * {@link MasNames#PROPERTY_BEFORE_COMMIT}): each user keeps one state object per transaction, filled by the
 * transaction's exchanges and handed to its action at commit time. An action that throws rolls the transaction back.
 */
public final class BeforeCommit {

    private record Entry(Object state, Consumer<Object> action) {
    }

    private final Map<Object, Entry> entries = new LinkedHashMap<>();

    /** The state {@code key} keeps in this transaction: made by {@code create} the first time, given to {@code action} at commit. */
    @SuppressWarnings("unchecked")
    public <T> T once(Object key, Supplier<T> create, Consumer<T> action) {
        return (T) entries.computeIfAbsent(key, k -> new Entry(create.get(), state -> action.accept((T) state))).state();
    }

    /** Runs every action, in the order their keys were first used. */
    public void run() {
        for (Entry entry : entries.values()) {
            entry.action().accept(entry.state());
        }
    }
}
