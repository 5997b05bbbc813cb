package org.mas.broker.rest;

import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.Route;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.StaticHandler;
import org.apache.camel.CamelContext;
import org.apache.camel.StartupListener;
import org.apache.camel.component.platform.http.vertx.VertxPlatformHttpRouter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator console at {@code /console/}: static files from the jar ({@code mas-console/} on the classpath, and
 * uPlot from its WebJar at {@code /console/lib/uplot/}), served by Vert.x's StaticHandler on the same HTTP server as
 * the API. The pages hold no data: they call the public REST API with the key the operator signs in with, so serving
 * them needs no key. Every answer carries a strict Content-Security-Policy (scripts, styles and calls from this
 * origin only, no inline script, no framing, no form submission).
 */
public class ConsoleResources implements StartupListener {

    public static final String PATH = "/console";
    /** The classpath folder of the console's files; not {@code console}, which Vert.x would first look for in the cwd. */
    static final String WEBROOT = "mas-console";
    /** The WebJar's files; the version is the pom's org.webjars.npm:uplot, which console/index.html names too. */
    static final String UPLOT_WEBROOT = "META-INF/resources/webjars/uplot";

    static final String CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; "
            + "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private static final Logger LOG = LoggerFactory.getLogger(ConsoleResources.class);

    private final int port;

    public ConsoleResources(int port) {
        this.port = port;
    }

    @Override
    public void onCamelContextStarted(CamelContext context, boolean alreadyStarted) {
        // the router exists once the HTTP server has started: see onCamelContextFullyStarted
    }

    @Override
    public void onCamelContextFullyStarted(CamelContext context, boolean alreadyStarted) {
        VertxPlatformHttpRouter router = VertxPlatformHttpRouter.lookup(context, VertxPlatformHttpRouter.getRouterNameFromPort(port));
        if (router == null) {
            LOG.warn("No HTTP router on port {}: the console at {}/ is not served", port, PATH);
            return;
        }
        // (a plain route for /console would match /console/ too: Vert.x ignores a trailing slash)
        get(router.routeWithRegex("^" + PATH + "$")).handler(ctx -> ctx.redirect(PATH + "/"));
        // unknown files fall through (StaticHandler calls next) to JsonHttpErrors' JSON 404
        get(router.route(PATH + "/lib/uplot/*")).handler(ConsoleResources::secureHeaders)
                .handler(StaticHandler.create(UPLOT_WEBROOT).setDirectoryListing(false).setIncludeHidden(false));
        get(router.route(PATH + "/*")).handler(ConsoleResources::secureHeaders)
                .handler(StaticHandler.create(WEBROOT).setIndexPage("index.html").setDirectoryListing(false)
                        .setIncludeHidden(false).setCachingEnabled(false));
        LOG.info("Operator console at {}/ (sign in with an API key)", PATH);
    }

    private static Route get(Route route) {
        return route.method(HttpMethod.GET).method(HttpMethod.HEAD);
    }

    private static void secureHeaders(RoutingContext ctx) {
        ctx.response().putHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                .putHeader("X-Content-Type-Options", "nosniff")
                .putHeader("X-Frame-Options", "DENY")
                .putHeader("Referrer-Policy", "no-referrer")
                .putHeader("Cache-Control", "no-cache");
        ctx.next();
    }
}
