package org.mas.broker.cluster;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;

import javax.sql.DataSource;

/**
 * Which router runs a singleton job now: a row per job in {@code job_leases} (delivery database), taken with one
 * conditional UPDATE on the database's clock, so PostgreSQL and H2 behave alike and routers' clocks need not agree.
 * <p>
 * A run may start when no run holds the lease (none in progress, or its lease ended: a router that died mid-run blocks
 * the job for at most {@code lease}) and the job's last run is old enough: half its interval for the router that ran
 * it last, two intervals for any other. So the router that runs a job keeps running it (its in-memory state, such as
 * the active alerts, stays meaningful), and another takes over once that one misses a run. {@link #finish} ends the
 * lease when the run ends.
 */
public class JobLeases {

    private final DataSource database;
    private final Duration lease;

    public JobLeases(DataSource database, Duration lease) {
        this.database = database;
        this.lease = lease;
    }

    public Duration lease() {
        return lease;
    }

    /**
     * @param interval how often the job runs (0: only "not two runs at once")
     * @return true if {@code owner} took the lease and should run the job now
     */
    public boolean tryStart(String job, String owner, Duration interval) throws SQLException {
        try (Connection connection = database.getConnection()) {
            connection.setAutoCommit(true);
            ensureRow(connection, job);
            try (PreparedStatement update = connection.prepareStatement("UPDATE job_leases SET owner = ?, "
                    + "started_at = CURRENT_TIMESTAMP, lease_until = CURRENT_TIMESTAMP + CAST(? AS INTEGER) * INTERVAL '1' SECOND "
                    + "WHERE job = ? AND (lease_until IS NULL OR lease_until < CURRENT_TIMESTAMP) AND (started_at IS NULL "
                    + "OR (owner = ? AND started_at <= CURRENT_TIMESTAMP - CAST(? AS INTEGER) * INTERVAL '1' SECOND / 1000) "
                    + "OR started_at <= CURRENT_TIMESTAMP - CAST(? AS INTEGER) * INTERVAL '1' SECOND / 1000)")) {
                update.setString(1, owner);
                update.setInt(2, (int) Math.max(1, lease.toSeconds()));
                update.setString(3, job);
                update.setString(4, owner);
                update.setInt(5, (int) Math.min(Integer.MAX_VALUE, interval.toMillis() / 2));
                update.setInt(6, (int) Math.min(Integer.MAX_VALUE, interval.toMillis() * 2));
                return update.executeUpdate() == 1;
            }
        }
    }

    /** Ends {@code owner}'s lease of {@code job} (the run is over); the last run's start stays for the spacing. */
    public void finish(String job, String owner) throws SQLException {
        try (Connection connection = database.getConnection();
             PreparedStatement update = connection.prepareStatement(
                     "UPDATE job_leases SET lease_until = NULL WHERE job = ? AND owner = ?")) {
            connection.setAutoCommit(true);
            update.setString(1, job);
            update.setString(2, owner);
            update.executeUpdate();
        }
    }

    /** The router that ran or runs {@code job} last, if any. */
    public Optional<String> lastOwner(String job) throws SQLException {
        try (Connection connection = database.getConnection();
             PreparedStatement select = connection.prepareStatement("SELECT owner FROM job_leases WHERE job = ?")) {
            select.setString(1, job);
            try (var rows = select.executeQuery()) {
                return rows.next() ? Optional.ofNullable(rows.getString(1)) : Optional.empty();
            }
        }
    }

    private static void ensureRow(Connection connection, String job) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement("INSERT INTO job_leases (job) SELECT CAST(? AS VARCHAR(100)) "
                + "WHERE NOT EXISTS (SELECT 1 FROM job_leases WHERE job = ?)")) {
            insert.setString(1, job);
            insert.setString(2, job);
            insert.executeUpdate();
        } catch (SQLException e) {
            if (e.getSQLState() == null || !e.getSQLState().startsWith("23")) {
                throw e; // a unique violation only says that another router inserted the row first
            }
        }
    }
}
