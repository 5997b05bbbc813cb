package org.mas.broker.rest;

/**
 * One REST request as authorization and the audit see it: its method, its path as requested, the scope its verb
 * declares, and the value of the path's first parameter (a queue, a message id, an agent id), or null.
 */
public record RestCall(String method, String path, String scope, String pathTarget) {

    /** operate and admin calls are audited. */
    public boolean audited() {
        return org.mas.broker.MasNames.SCOPE_OPERATE.equals(scope) || org.mas.broker.MasNames.SCOPE_ADMIN.equals(scope);
    }
}
