// The clinician REST API client: session login/logout, CSRF token, rooms, labels, invites, teams.

export class ApiError extends Error {
    constructor(status, code, message) {
        super(message || code || `HTTP ${status}`);
        this.status = status;
        this.code = code;
    }
}

export class Api {
    constructor() {
        this.csrf = null;
    }

    async request(method, path, body) {
        const headers = {Accept: 'application/json'};
        if (body !== undefined) headers['Content-Type'] = 'application/json';
        if (method !== 'GET' && this.csrf) headers['X-CSRF-Token'] = this.csrf;
        let res;
        try {
            res = await fetch(path, {
                method,
                headers,
                body: body === undefined ? undefined : JSON.stringify(body),
                credentials: 'same-origin',
                cache: 'no-store',
            });
        } catch {
            throw new ApiError(0, 'network');
        }
        if (res.status === 204) return null;
        let data = null;
        try {
            data = await res.json();
        } catch {
            data = null;
        }
        if (!res.ok) {
            const e = (data && data.error) || {};
            throw new ApiError(res.status, e.code, e.message);
        }
        return data;
    }

    /* The signed-in clinician {email, name, csrf, id, teams, canned_messages}, or null when there
     * is no session. */
    async me() {
        try {
            const me = await this.request('GET', '/api/v1/me');
            this.csrf = me.csrf;
            return me;
        } catch (err) {
            if (err.status === 401) return null;
            throw err;
        }
    }

    async login(email, password) {
        const me = await this.request('POST', '/api/v1/session', {email, password});
        this.csrf = me && me.csrf;
        if (!this.csrf) return this.me();
        return me;
    }

    async logout() {
        try {
            await this.request('DELETE', '/api/v1/session');
        } finally {
            this.csrf = null;
        }
    }

    createRoom(opts) {
        return this.request('POST', '/api/v1/rooms', opts);
    }

    endRoom(id) {
        return this.request('DELETE', `/api/v1/rooms/${encodeURIComponent(id)}`);
    }

    /* Changes a room's label ('' clears it). */
    setLabel(id, label) {
        return this.request('PATCH', `/api/v1/rooms/${encodeURIComponent(id)}`, {label});
    }

    /* A guest invite to the room: {id, url, role, name?, expires_at}. */
    createInvite(id, name) {
        return this.request('POST', `/api/v1/rooms/${encodeURIComponent(id)}/invites`, name ? {role: 'guest', name} : {role: 'guest'});
    }

    revokeInvite(id, invite) {
        return this.request('DELETE', `/api/v1/rooms/${encodeURIComponent(id)}/invites/${encodeURIComponent(invite)}`);
    }

    /* The clinician's teams with their members: [{name, members: [{id, name}]}]. */
    async teams() {
        const data = await this.request('GET', '/api/v1/teams');
        return (data && data.teams) || [];
    }
}
