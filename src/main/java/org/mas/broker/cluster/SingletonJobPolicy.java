package org.mas.broker.cluster;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

import org.apache.camel.Exchange;
import org.apache.camel.Route;
import org.apache.camel.component.timer.TimerEndpoint;
import org.apache.camel.support.RoutePolicySupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A route policy for timer routes that are singleton jobs (queue clean-up, ledger clean-up, alert evaluation): of the
 * routers sharing a ledger, one runs each job at a time ({@link JobLeases}; the job is the route id, its interval the
 * timer's period). On the other routers a tick ends at once. Named in the route's YAML as {@code routePolicy:
 * singletonJob}; a single router (no leases) runs every tick, as before clustering. Logs which router runs a job when
 * that changes and counts the runs here (mas_singleton_job_runs_total{job}).
 */
public class SingletonJobPolicy extends RoutePolicySupport {

    public static final String BEAN_NAME = "singletonJob";
    private static final Logger LOG = LoggerFactory.getLogger(SingletonJobPolicy.class);
    private static final String HELD = "masSingletonJob";

    private final JobLeases leases;
    private final String instanceId;
    private final Consumer<String> ran;
    private final org.mas.broker.RateLimitedLog failures = new org.mas.broker.RateLimitedLog(LOG,
            "{} more singleton-job lock failures in the last minute");
    /** Per job: whether this router ran its last run, for the "now runs here" log line. */
    private final Map<String, Boolean> runsHere = new ConcurrentHashMap<>();

    /**
     * @param leases null for a single router: every tick runs (its instance id changes at each start, so a lease of
     *               the last run would make it wait as if another router had run the job)
     * @param ran    called with the job's name for each run this router starts (the metric)
     */
    public SingletonJobPolicy(JobLeases leases, String instanceId, Consumer<String> ran) {
        this.leases = leases;
        this.instanceId = instanceId;
        this.ran = ran;
    }

    @Override
    public void onExchangeBegin(Route route, Exchange exchange) {
        String job = route.getRouteId();
        Duration interval = route.getEndpoint() instanceof TimerEndpoint timer ? Duration.ofMillis(timer.getPeriod())
                : Duration.ZERO;
        if (leases == null) {
            ran.accept(job);
            return;
        }
        boolean start;
        try {
            start = leases.tryStart(job, instanceId, interval);
        } catch (Exception e) {
            failures.warn("Singleton job {} skipped on {}: its lock could not be taken: {}", job, instanceId, e.toString());
            start = false;
        }
        if (!start) {
            exchange.setRouteStop(true); // another router runs it (or did so recently): this tick does nothing
            return;
        }
        exchange.setProperty(HELD, job);
        if (!Boolean.TRUE.equals(runsHere.put(job, true))) {
            LOG.info("Singleton job {} runs on {} (lease {} s)", job, instanceId, leases.lease().toSeconds());
        }
        ran.accept(job);
    }

    @Override
    public void onExchangeDone(Route route, Exchange exchange) {
        String job = exchange.getProperty(HELD, String.class);
        if (job == null) {
            runsHere.replace(route.getRouteId(), true, false);
            return;
        }
        try {
            leases.finish(job, instanceId);
        } catch (Exception e) {
            failures.warn("Singleton job {} on {}: its lease could not be ended (it ends by itself in {} s): {}", job,
                    instanceId, leases.lease().toSeconds(), e.toString());
        }
    }
}
