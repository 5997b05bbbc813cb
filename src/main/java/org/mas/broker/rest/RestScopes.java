package org.mas.broker.rest;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Route;
import org.apache.camel.StartupListener;
import org.apache.camel.component.rest.RestEndpoint;
import org.apache.camel.model.Model;
import org.apache.camel.model.rest.RestDefinition;
import org.apache.camel.model.rest.SecurityDefinition;
import org.apache.camel.model.rest.VerbDefinition;

import org.mas.broker.MasNames;

/**
 * The scope each REST verb declares in the REST DSL ({@code security: [{key: api_key, scopes: <scope>}]}), read from
 * Camel's REST model at start-up: a verb that declares none, several, or an unknown one stops start-up. At run time
 * the route that received a request names its verb (method and path), and so its scope.
 */
public class RestScopes implements StartupListener {

    /** The name of the security definition every {@code rest:} declares (the X-API-Key header). */
    public static final String SECURITY_KEY = "api_key";
    private static final Pattern PATH_PARAMETER = Pattern.compile("\\{([^/}]+)}");

    private volatile Map<String, String> scopeByVerb = Map.of();
    /** route id -> its verb ("POST /api/queues/{name}/purge"), empty for a route that is not a REST verb's */
    private final Map<String, Optional<String>> verbByRoute = new ConcurrentHashMap<>();

    @Override
    public void onCamelContextStarted(CamelContext context, boolean alreadyStarted) {
        Model model = context.getCamelContextExtension().getContextPlugin(Model.class);
        scopeByVerb = scopes(model.getRestDefinitions());
    }

    /**
     * @return "METHOD /path/{param}" of each verb -> its one scope
     * @throws IllegalStateException naming every verb without exactly one known scope
     */
    public static Map<String, String> scopes(List<RestDefinition> rests) {
        Map<String, String> scopes = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (RestDefinition rest : rests) {
            for (VerbDefinition verb : rest.getVerbs()) {
                String name = verb(verb.asVerb(), rest.getPath(), verb.getPath());
                List<SecurityDefinition> security = verb.getSecurity() == null ? List.of() : verb.getSecurity();
                String scope = security.size() == 1 && SECURITY_KEY.equals(security.get(0).getKey())
                        ? security.get(0).getScopes() : null;
                if (scope == null || !MasNames.SCOPES.contains(scope.trim())) {
                    String where = rest.getResource() == null ? "" : " (" + rest.getResource().getLocation() + ")";
                    problems.add(name + where + " declares " + (security.isEmpty() ? "no scope" : "security " + describe(security)));
                } else {
                    scopes.put(name, scope.trim());
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException("Every REST verb must declare exactly one scope (security: [{key: " + SECURITY_KEY
                    + ", scopes: <one of " + MasNames.SCOPES + ">}]): " + String.join("; ", problems));
        }
        return Map.copyOf(scopes);
    }

    /**
     * The verb that received this request and the scope it declares, with the request's own path and the value of
     * the path's first parameter (what the call acts on, for the audit record); empty for a route that is no verb's.
     */
    public Optional<RestCall> call(Exchange exchange) {
        String routeId = exchange.getFromRouteId();
        if (routeId == null) {
            return Optional.empty();
        }
        Optional<String> verb = verbByRoute.computeIfAbsent(routeId, id -> {
            Route route = exchange.getContext().getRoute(id);
            return route != null && route.getEndpoint() instanceof RestEndpoint rest
                    ? Optional.of(verb(rest.getMethod(), rest.getPath(), rest.getUriTemplate())) : Optional.empty();
        });
        if (verb.isEmpty() || !scopeByVerb.containsKey(verb.get())) {
            return Optional.empty();
        }
        String[] methodAndTemplate = verb.get().split(" ", 2);
        String path = exchange.getIn().getHeader(Exchange.HTTP_PATH, String.class);
        String target = null;
        Matcher parameter = PATH_PARAMETER.matcher(methodAndTemplate[1]);
        if (parameter.find()) {
            target = exchange.getIn().getHeader(parameter.group(1), String.class);
        }
        return Optional.of(new RestCall(methodAndTemplate[0], path == null ? methodAndTemplate[1] : path,
                scopeByVerb.get(verb.get()), target));
    }

    private static String verb(String method, String base, String template) {
        String path = (base == null ? "" : base) + (template == null || template.isEmpty() ? ""
                : (template.startsWith("/") ? "" : "/") + template);
        if (path.endsWith("/") && path.length() > 1) {
            path = path.substring(0, path.length() - 1);
        }
        return method.toUpperCase(Locale.ROOT) + " " + path;
    }

    private static String describe(List<SecurityDefinition> security) {
        return security.stream().map(s -> "{key: " + s.getKey() + ", scopes: " + s.getScopes() + "}").toList().toString();
    }
}
