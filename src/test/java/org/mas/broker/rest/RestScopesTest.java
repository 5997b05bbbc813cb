package org.mas.broker.rest;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.camel.model.rest.RestDefinition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.mas.broker.support.RunningBroker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A REST verb without exactly one known scope cannot run: start-up stops and names it. */
class RestScopesTest {

    @TempDir
    Path dir;

    @Test
    void eachVerbHasTheScopeItDeclares() {
        RestDefinition rest = new RestDefinition();
        rest.setPath("/api/things");
        rest.get().to("direct:list").security(RestScopes.SECURITY_KEY, "read");
        rest.delete("/{id}").to("direct:delete").security(RestScopes.SECURITY_KEY, "operate");

        assertThat(RestScopes.scopes(List.of(rest)))
                .isEqualTo(Map.of("GET /api/things", "read", "DELETE /api/things/{id}", "operate"));
    }

    @Test
    void aVerbWithoutExactlyOneKnownScopeIsRefused() {
        RestDefinition rest = new RestDefinition();
        rest.setPath("/api");
        rest.get("/none").to("direct:none");
        rest.get("/two").to("direct:two").security(RestScopes.SECURITY_KEY, "read,send");
        rest.get("/unknown").to("direct:unknown").security(RestScopes.SECURITY_KEY, "write");
        rest.get("/other-key").to("direct:other").security("basic", "read");

        assertThatThrownBy(() -> RestScopes.scopes(List.of(rest)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("GET /api/none declares no scope")
                .hasMessageContaining("GET /api/two declares security [{key: api_key, scopes: read,send}]")
                .hasMessageContaining("GET /api/unknown declares")
                .hasMessageContaining("GET /api/other-key declares");
    }

    @Test
    void aRouteFileWithAVerbWithoutAScopeStopsStartUp() throws Exception {
        Path routes = Files.writeString(dir.resolve("unscoped.yaml"), """
                - rest:
                    path: /api/unscoped
                    get:
                      - id: rest-unscoped
                        to: direct:unscoped
                - route:
                    id: unscoped
                    routeConfigurationId: mas-rest
                    from:
                      uri: direct:unscoped
                      steps:
                        - setBody:
                            constant: "{}"
                """);
        Path data = Files.createDirectory(dir.resolve("data"));

        assertThatThrownBy(() -> RunningBroker.start(data, Map.of(), Map.of("camel.main.routes-include-pattern",
                "file:routes/**/*.yaml,file:" + routes)).close())
                .hasStackTraceContaining("GET /api/unscoped (file:" + routes + ") declares no scope");
    }
}
