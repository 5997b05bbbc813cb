package org.mas.broker.routing;

import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Producer;
import org.apache.camel.RoutesBuilder;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.builder.RouteConfigurationBuilder;
import org.apache.camel.model.BeanDefinition;
import org.apache.camel.model.ChoiceDefinition;
import org.apache.camel.model.DynamicRouterDefinition;
import org.apache.camel.model.EnrichDefinition;
import org.apache.camel.model.KameletDefinition;
import org.apache.camel.model.Model;
import org.apache.camel.model.OptionalIdentifiedDefinition;
import org.apache.camel.model.OtherwiseDefinition;
import org.apache.camel.model.OutputNode;
import org.apache.camel.model.PollDefinition;
import org.apache.camel.model.PollEnrichDefinition;
import org.apache.camel.model.RecipientListDefinition;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.model.RoutingSlipDefinition;
import org.apache.camel.model.SendDefinition;
import org.apache.camel.model.ToDynamicDefinition;
import org.apache.camel.model.WhenDefinition;
import org.apache.camel.spi.Resource;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.apache.camel.support.service.ServiceHelper;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routing rules in force (routes/routing/routing-rules.yaml): the message path and the routing dry-run run them
 * through {@link #apply}, and a changed file replaces them while the broker runs. Bean name {@code routingRules}.
 *
 * <p>At start-up Camel loads the file like every route file (an error in it stops start-up); this service then checks
 * that it is the rules route ({@value #ROUTE_ID}, from {@value #ENDPOINT}, route configuration
 * {@value #ROUTE_CONFIGURATION}). A reload ({@link #reload}: POST /api/routing/reload, or the file watch) reads the
 * file once, and creates and starts its route beside the running one, under a new id and endpoint
 * ({@code routing-rules-2}, {@code direct:routing-rules-2}, ...). Only once that succeeded are the new rules put in
 * force, under a write lock that waits for every message inside the old rules (each holds the read lock while it is
 * routed); the old route is removed after. A message is routed by the old rules or the new ones, once, never by
 * none. A file that fails to load leaves the old rules in force: the error is logged and kept for {@link #status}.
 */
public class RoutingRules extends ServiceSupport {

    public static final String ROUTE_ID = "routing-rules";
    public static final String ENDPOINT = "direct:routing-rules";
    public static final String ROUTE_CONFIGURATION = "mas-routing-rules";

    private static final Logger LOG = LoggerFactory.getLogger(RoutingRules.class);

    /** One loaded version of the rules: its route, the producer that calls it, and the file content it came from. */
    private record Version(int number, RouteDefinition route, Producer producer, String checksum, Instant loadedAt,
                           String trigger) {
    }

    /** A load that failed: when, the content's checksum, and why. */
    public record Failure(Instant at, String checksum, String error, List<String> details) {
    }

    /** What {@link #reload} did: loaded a changed file, found it unchanged, or failed (the old rules stay). */
    public record Outcome(boolean reloaded, Failure failure) {
    }

    private final CamelContext context;
    private final Duration watchInterval;
    private final Clock clock;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile Version current;
    private volatile Failure lastFailure;
    private volatile int reloads;
    private String location;
    private int attempts = 1;
    private ScheduledExecutorService watcher;
    /** File watch: the checksum seen at the last poll, and the last one loaded or tried (tried once per content). */
    private String polled;
    private String tried;
    private volatile Map<String, String> rulesOfCurrent;

    /** @param watchInterval how often the file is checked for a change; zero: never (POST /api/routing/reload only) */
    public RoutingRules(CamelContext context, Duration watchInterval, Clock clock) {
        this.context = context;
        this.watchInterval = watchInterval;
        this.clock = clock;
    }

    @Override
    protected void doStart() throws Exception {
        Model model = context.getCamelContextExtension().getContextPlugin(Model.class);
        RouteDefinition route = model.getRouteDefinition(ROUTE_ID);
        if (route == null) {
            throw new IllegalStateException("No routing rules: no route file defines the route '" + ROUTE_ID
                    + "' (routes/routing/routing-rules.yaml, from " + ENDPOINT + ")");
        }
        location = route.getResource() == null ? null : route.getResource().getLocation();
        List<String> problems = problems(route);
        if (!problems.isEmpty()) {
            throw new IllegalStateException("The routing rules" + (location == null ? "" : " in " + location) + ": "
                    + String.join("; ", problems));
        }
        String checksum = null;
        if (location != null) {
            try {
                checksum = checksum(read());
            } catch (IOException e) {
                LOG.warn("Cannot read the routing rules file {} again: {}", location, e.toString());
            }
        }
        current = new Version(1, route, producer(ENDPOINT), checksum, clock.instant(), "start-up");
        polled = checksum;
        tried = checksum;
        if (location != null && !watchInterval.isZero()) {
            watcher = context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, "routing-rules-watch");
            watcher.scheduleWithFixedDelay(this::poll, watchInterval.toMillis(), watchInterval.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    protected void doStop() throws Exception {
        if (watcher != null) {
            context.getExecutorServiceManager().shutdown(watcher);
            watcher = null;
        }
        Version version = current;
        if (version != null) {
            ServiceHelper.stopService(version.producer());
        }
    }

    /**
     * Routes the exchange through the rules in force: the recipients header is theirs afterwards. A failing rule
     * fails this step (the rules route has no error handler of its own), so the caller's handler decides.
     */
    public void apply(Exchange exchange) throws Exception {
        lock.readLock().lock();
        try {
            current.producer().process(exchange);
        } finally {
            lock.readLock().unlock();
        }
        Exception failure = exchange.getException();
        if (failure != null) {
            exchange.setException(null);
            throw failure;
        }
    }

    /**
     * Loads the rules file again if its content changed since the rules in force were loaded; on any error the rules
     * in force stay, and the error is logged and kept.
     *
     * @param trigger who asked, for the log ("POST /api/routing/reload by ops", "file watch")
     */
    public synchronized Outcome reload(String trigger) {
        if (location == null) {
            return fail(null, "the routing rules were not loaded from a file: nothing to reload", List.of());
        }
        byte[] content;
        try {
            content = read();
        } catch (IOException e) {
            return fail(null, "cannot read " + file(), List.of(e.toString()));
        }
        String checksum = checksum(content);
        tried = checksum;
        if (checksum.equals(current.checksum())) {
            lastFailure = null; // back to what is in force: an error about other content no longer applies
            return new Outcome(false, null);
        }
        int number = ++attempts;
        String routeId = ROUTE_ID + "-" + number;
        String endpoint = ENDPOINT + "-" + number;
        Model model = context.getCamelContextExtension().getContextPlugin(Model.class);
        RouteDefinition route = null;
        Producer producer;
        try {
            route = onlyRoute(PluginHelper.getRoutesLoader(context).findRoutesBuilders(ResourceHelper.fromBytes(location, content)));
            List<String> problems = problems(route);
            if (!problems.isEmpty()) {
                RouteDefinition refused = route;
                route = null;
                throw new IllegalArgumentException(String.join("; ", problems) + " (" + refused.getId() + ")");
            }
            route.setId(routeId);
            route.getInput().setUri(endpoint);
            model.addRouteDefinition(route); // created and started: a bad expression, bean or endpoint fails here
            producer = producer(endpoint);
        } catch (Exception e) {
            if (route != null) {
                removeQuietly(model, route);
            }
            return fail(checksum, file() + " has an error", causes(e, routeId));
        }
        Version old = current;
        lock.writeLock().lock(); // waits for the messages inside the old rules; the next ones wait for the swap
        try {
            current = new Version(number, route, producer, checksum, clock.instant(), trigger);
            rulesOfCurrent = null;
        } finally {
            lock.writeLock().unlock();
        }
        lastFailure = null;
        reloads++;
        ServiceHelper.stopService(old.producer());
        removeQuietly(model, old.route());
        if (old.number() > 1) {
            try {
                context.removeEndpoints(ENDPOINT + "-" + old.number());
            } catch (Exception e) {
                LOG.debug("Endpoint of the rules replaced not removed: {}", e.toString());
            }
        }
        LOG.info("Routing rules reloaded from {} ({}, {}): route {}", file(), checksum, trigger, routeId);
        return new Outcome(true, null);
    }

    /** The rules in force and the last failed load, for GET /api/routing. */
    public Map<String, Object> status() {
        Version version = current;
        Failure failure = lastFailure;
        String onDisk;
        try {
            onDisk = location == null ? null : checksum(read());
        } catch (IOException e) {
            onDisk = null;
        }
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("file", file());
        status.put("route_id", version.route().getId());
        status.put("loaded_at", version.loadedAt().toString());
        status.put("loaded_by", version.trigger());
        status.put("checksum", version.checksum());
        status.put("file_checksum", onDisk);
        status.put("up_to_date", onDisk != null && onDisk.equals(version.checksum()));
        status.put("reloads", reloads);
        status.put("watch_interval_ms", watchInterval.toMillis());
        Map<String, Object> error = null;
        if (failure != null) {
            error = new LinkedHashMap<>();
            error.put("at", failure.at().toString());
            error.put("checksum", failure.checksum());
            error.put("error", failure.error());
            error.put("details", failure.details());
        }
        status.put("last_error", error);
        return status;
    }

    /**
     * The rule a node of the rules in force belongs to: its "when" (by id if it has one, else by condition), "otherwise",
     * or, outside the choice, the node's own id; null for a node the rules in force do not have.
     */
    public String ruleOf(String nodeId) {
        Map<String, String> rules = rulesOfCurrent;
        if (rules == null) {
            rules = new LinkedHashMap<>();
            collectRules(current.route().getOutputs(), null, rules);
            rulesOfCurrent = rules;
        }
        return nodeId == null ? null : rules.get(nodeId);
    }

    /** The route id and checksum of the rules in force. */
    public String routeId() {
        return current.route().getId();
    }

    public String checksum() {
        return current.checksum();
    }

    private static void collectRules(List<? extends OptionalIdentifiedDefinition<?>> nodes, String rule,
                                     Map<String, String> rules) {
        for (OptionalIdentifiedDefinition<?> node : nodes) {
            String own = rule;
            if (node instanceof WhenDefinition when) {
                own = when.hasCustomIdAssigned() ? when.getId() : when.getDescription() != null ? when.getDescription()
                        : "when " + when.getExpression().getExpression();
            } else if (node instanceof OtherwiseDefinition) {
                own = node.hasCustomIdAssigned() ? node.getId() : "otherwise";
            }
            if (node.getId() != null) {
                rules.put(node.getId(), own != null ? own : node.hasCustomIdAssigned() ? node.getId() : null);
            }
            if (node instanceof ChoiceDefinition choice) {
                List<OptionalIdentifiedDefinition<?>> branches = new ArrayList<>(choice.getWhenClauses());
                if (choice.getOtherwise() != null) {
                    branches.add(choice.getOtherwise());
                }
                collectRules(branches, own, rules);
            } else if (node instanceof OutputNode withOutputs) {
                collectRules(withOutputs.getOutputs(), own, rules);
            }
        }
    }

    /** What keeps a route from being the rules route; empty if nothing does. */
    private static List<String> problems(RouteDefinition route) {
        List<String> problems = new ArrayList<>();
        if (!ROUTE_ID.equals(route.getId())) {
            problems.add("the route's id must be '" + ROUTE_ID + "', not '" + route.getId() + "'");
        }
        String from = route.getInput() == null ? null : route.getInput().getUri();
        if (!ENDPOINT.equals(from)) {
            problems.add("the route must read from " + ENDPOINT + ", not " + from);
        }
        if (!ROUTE_CONFIGURATION.equals(route.getRouteConfigurationId())) {
            problems.add("the route must name routeConfigurationId: " + ROUTE_CONFIGURATION + ", not "
                    + route.getRouteConfigurationId() + " (its failures are the caller's to handle)");
        }
        // the steps that follow the rules (routes/routing/accept.yaml, route-message): in the rules they would run twice
        walk(route.getOutputs(), node -> {
            String uri = node instanceof SendDefinition<?> send ? send.getEndpointUri()
                    : node instanceof ToDynamicDefinition dynamic ? dynamic.getUri() : null;
            boolean followingStep = node instanceof BeanDefinition bean && (("recipients".equals(bean.getRef())
                    && bean.getMethod() != null && bean.getMethod().startsWith("requireAny")) || "backlog".equals(bean.getRef()));
            String where = node.getLineNumber() > 0 ? " (line " + node.getLineNumber() + ")" : "";
            if ((uri != null && uri.startsWith("direct:deliver")) || followingStep) {
                problems.add("remove the step " + node + where + ": it follows the rules, in routes/routing/accept.yaml, and would run twice");
            } else if (sends(node)) {
                // the dry-run (POST /api/routing/test) runs the rules as they are: a step that sent would send from it too
                problems.add("remove the step " + node + where + ": the rules only change the recipients and send nothing "
                        + "(the delivery follows them, in routes/routing/accept.yaml; a dry-run runs them too)");
            }
        });
        return problems;
    }

    /** A step that hands the message to an endpoint (to, toD, wireTap, enrich, recipientList, ...). */
    private static boolean sends(OptionalIdentifiedDefinition<?> node) {
        return node instanceof SendDefinition<?> || node instanceof ToDynamicDefinition || node instanceof EnrichDefinition
                || node instanceof PollEnrichDefinition || node instanceof RecipientListDefinition<?>
                || node instanceof RoutingSlipDefinition<?> || node instanceof DynamicRouterDefinition<?>
                || node instanceof PollDefinition || node instanceof KameletDefinition;
    }

    private static void walk(List<? extends OptionalIdentifiedDefinition<?>> nodes,
                             java.util.function.Consumer<OptionalIdentifiedDefinition<?>> visit) {
        for (OptionalIdentifiedDefinition<?> node : nodes) {
            visit.accept(node);
            if (node instanceof ChoiceDefinition choice) {
                List<OptionalIdentifiedDefinition<?>> branches = new ArrayList<>(choice.getWhenClauses());
                if (choice.getOtherwise() != null) {
                    branches.add(choice.getOtherwise());
                }
                walk(branches, visit);
            } else if (node instanceof OutputNode withOutputs) {
                walk(withOutputs.getOutputs(), visit);
            }
        }
    }

    /** The one route of the rules file; anything else in it (more routes, rests, templates, configurations) is an error. */
    private RouteDefinition onlyRoute(Collection<RoutesBuilder> builders) throws Exception {
        List<RouteDefinition> routes = new ArrayList<>();
        int others = 0;
        for (RoutesBuilder builder : builders) {
            if (!(builder instanceof RouteBuilder routeBuilder)) {
                throw new IllegalArgumentException("not a route file: " + builder);
            }
            routes.addAll(routeBuilder.configureRoutes(context).getRoutes());
            others += routeBuilder.getRestCollection().getRests().size()
                    + routeBuilder.getRouteTemplateCollection().getRouteTemplates().size()
                    + routeBuilder.getTemplatedRouteCollection().getTemplatedRoutes().size();
            if (builder instanceof RouteConfigurationBuilder configurations) {
                others += configurations.getRouteConfigurationCollection().getRouteConfigurations().size();
            }
        }
        if (routes.size() != 1 || others > 0) {
            throw new IllegalArgumentException("the rules file must hold exactly one route (" + ROUTE_ID + ") and nothing "
                    + "else; it holds " + routes.size() + " route(s)" + (others > 0 ? " and " + others + " other definition(s)" : ""));
        }
        return routes.get(0);
    }

    private Producer producer(String endpoint) throws Exception {
        Producer producer = context.getEndpoint(endpoint).createProducer();
        ServiceHelper.startService(producer);
        return producer;
    }

    private Outcome fail(String checksum, String error, List<String> details) {
        Failure failure = new Failure(clock.instant(), checksum, error, details);
        lastFailure = failure;
        LOG.error("Routing rules not reloaded, the rules loaded at {} stay in force: {}: {}", current.loadedAt(), error,
                String.join("; ", details));
        return new Outcome(false, failure);
    }

    private void removeQuietly(Model model, RouteDefinition route) {
        try {
            model.removeRouteDefinition(route); // stops and removes its route, if it was created
        } catch (Exception e) {
            LOG.warn("Could not remove the routing rules route {}: {}", route.getId(), e.toString());
        }
    }

    /** File watch: a content that changed, and was the same at two polls in a row (not half written), is loaded once. */
    private void poll() {
        try {
            String checksum;
            try {
                checksum = checksum(read());
            } catch (IOException e) {
                checksum = "unreadable";
            }
            String previous;
            synchronized (this) {
                previous = polled;
                polled = checksum;
                if (!checksum.equals(previous) || checksum.equals(tried)) {
                    return;
                }
                tried = checksum; // an unreadable file too is reported once, not at every poll
            }
            reload("file watch");
        } catch (RuntimeException e) {
            LOG.warn("Routing rules file watch: {}", e.toString());
        }
    }

    private byte[] read() throws IOException {
        Resource resource = PluginHelper.getResourceLoader(context).resolveResource(location);
        if (resource == null || !resource.exists()) {
            throw new IOException(location + " does not exist");
        }
        try (InputStream in = resource.getInputStream()) {
            return in.readAllBytes();
        }
    }

    private String file() {
        return location == null ? null : location.startsWith("file:") ? location.substring("file:".length()) : location;
    }

    static String checksum(byte[] content) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }

    /**
     * Each distinct message of the cause chain, outermost first (Camel's name the line or the step, and why), with the
     * route as the file names it, and without the dump of the whole route that Camel puts in the middle.
     */
    private static List<String> causes(Throwable e, String routeId) {
        List<String> messages = new ArrayList<>();
        for (Throwable t = e; t != null && messages.size() < 5; t = t.getCause()) {
            String message = (t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage())
                    .replace(routeId, ROUTE_ID).replaceAll("(?s) in route: .*? because: ", " because: ");
            if (messages.stream().noneMatch(m -> m.contains(message))) {
                messages.add(message.length() > 2000 ? message.substring(0, 2000) + "..." : message);
            }
        }
        return messages;
    }
}
