package org.mas.broker.rest;

import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.ext.web.RoutingContext;
import org.apache.camel.CamelContext;
import org.apache.camel.StartupListener;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpRouter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Errors the HTTP server answers by itself, before any route runs (a body far over the limit, an unknown path, a
 * wrong method), get the same JSON error body as the API's own: {@code {"error": ..., "details": [...]}}.
 */
public class JsonHttpErrors implements StartupListener {

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final Logger LOG = LoggerFactory.getLogger(JsonHttpErrors.class);

    private final int port;
    private final long maxMessageSize;

    public JsonHttpErrors(int port, long maxMessageSize) {
        this.port = port;
        this.maxMessageSize = maxMessageSize;
    }

    @Override
    public void onCamelContextStarted(CamelContext context, boolean alreadyStarted) {
        // the router exists once the HTTP server has started: see onCamelContextFullyStarted
    }

    @Override
    public void onCamelContextFullyStarted(CamelContext context, boolean alreadyStarted) {
        VertxPlatformHttpRouter router = VertxPlatformHttpRouter.lookup(context, VertxPlatformHttpRouter.getRouterNameFromPort(port));
        if (router == null) {
            LOG.warn("No HTTP router on port {}: the server's own errors keep their default bodies", port);
            return;
        }
        // a failure (e.g. the body handler's 413) looks for failure handlers on every route of the router
        router.route().failureHandler(ctx -> {
            switch (ctx.statusCode()) {
                case 413 -> respond(ctx, 413, "message too large",
                        "the request body is over the limit of " + maxMessageSize + " bytes");
                case 401, 403, 404, 405, 415 -> ctx.next();
                default -> {
                    String type = ctx.request().getHeader("Content-Type");
                    if (JsonBodies.isForm(type)) {
                        // the server's form decoding failed before any route (e.g. a form on a GET): no call takes one
                        respond(ctx, 415, "unsupported content type", "Content-Type must be application/json, got '"
                                + type + "' (forms are not accepted)");
                    } else {
                        LOG.debug("HTTP request failed before any route: {}", String.valueOf(ctx.failure()));
                        respond(ctx, 500, "internal error", "the request could not be processed");
                    }
                }
            }
        });
        // after every API and management route: nothing matched this method and path
        List<Pattern> apiPaths = context.getRestRegistry().listAllRestServices().stream()
                .map(service -> Pattern.compile(Pattern.quote(join(service.getBasePath(), service.getUriTemplate()))
                        .replaceAll("\\{[^/}]+}", "\\\\E[^/]+\\\\Q")))
                .toList();
        router.route().last().handler(ctx -> {
            String path = ctx.request().path();
            if (apiPaths.stream().anyMatch(p -> p.matcher(path).matches())) {
                respond(ctx, 405, "method not allowed", ctx.request().method() + " is not supported on " + path);
            } else {
                respond(ctx, 404, "not found", "no resource at " + path);
            }
        });
    }

    private static String join(String base, String template) {
        String path = (base == null ? "" : base) + (template == null ? "" : (template.startsWith("/") ? "" : "/") + template);
        return path.endsWith("/") && path.length() > 1 ? path.substring(0, path.length() - 1) : path;
    }

    private static void respond(RoutingContext ctx, int status, String error, String detail) {
        if (ctx.response().ended()) {
            return;
        }
        String body;
        try {
            body = MAPPER.writeValueAsString(Map.of("error", error, "details", List.of(detail)));
        } catch (JsonProcessingException e) {
            body = "{\"error\":\"" + error + "\",\"details\":[]}";
        }
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body);
    }
}
