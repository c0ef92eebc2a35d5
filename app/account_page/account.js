// The account page: a client of the API in browser mode. The access token lives in this page's
// memory only; the refresh token in the HttpOnly cookie the API sets when REFRESH_COOKIE is on
// (else in memory too, and a reload signs out). No inline script, no HTML from answers: every
// text is set with textContent, under the page's Content-Security-Policy.
"use strict";

(() => {
  const state = { access: null, refresh: null, mfaToken: null, retry: null, timer: null };
  const $ = (id) => document.getElementById(id);
  const PANELS = ["signin", "second-step", "reauth", "account"];

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.error;
      this.details = body && body.details;
    }
  }

  async function api(method, path, body, { auth = true } = {}) {
    // The custom header is what browser mode asks of every request the cookie rides on.
    const headers = { "X-Requested-With": "fetch" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && state.access) headers.Authorization = `Bearer ${state.access}`;
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function say(text, isError = false) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }

  function show(...panels) {
    for (const id of PANELS) $(id).hidden = !panels.includes(id);
  }

  function values(form) {
    return Object.fromEntries([...new FormData(form)].filter(([, value]) => value !== ""));
  }

  // Every action reports its failure on the page; a route that wants a fresh session asks the
  // person to confirm it is them, then runs the action again.
  function guarded(action) {
    return async (event) => {
      try {
        await action(event);
      } catch (error) {
        if (error.code === "reauthentication_required") {
          state.retry = () => action(event);
          show("account", "reauth");
          say("Confirm it is you to continue.");
        } else {
          say(error.message, true);
        }
      }
    };
  }

  function on(id, event, action) {
    const run = guarded(action);
    $(id).addEventListener(event, (e) => {
      if (event === "submit") e.preventDefault();
      return run(e);
    });
  }

  // WebAuthn's JSON forms, with a fallback for browsers without them.
  const base64url = {
    decode(text) {
      const padded = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
      return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
    },
    encode(buffer) {
      const text = btoa(String.fromCharCode(...new Uint8Array(buffer)));
      return text.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };
  const descriptors = (list) => (list || []).map((item) => ({ ...item, id: base64url.decode(item.id) }));

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return {
      ...json,
      challenge: base64url.decode(json.challenge),
      user: { ...json.user, id: base64url.decode(json.user.id) },
      excludeCredentials: descriptors(json.excludeCredentials),
    };
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return { ...json, challenge: base64url.decode(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
  }

  function credentialJSON(credential) {
    if (typeof credential.toJSON === "function") return credential.toJSON();
    const answer = credential.response;
    const response = { clientDataJSON: base64url.encode(answer.clientDataJSON) };
    if (answer.attestationObject) {
      response.attestationObject = base64url.encode(answer.attestationObject);
      response.transports = answer.getTransports ? answer.getTransports() : [];
    } else {
      response.authenticatorData = base64url.encode(answer.authenticatorData);
      response.signature = base64url.encode(answer.signature);
      if (answer.userHandle) response.userHandle = base64url.encode(answer.userHandle);
    }
    return {
      id: credential.id,
      rawId: base64url.encode(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  async function passkeyAnswer() {
    const options = await api("POST", "/login/passkey/options", undefined, { auth: false });
    const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
    return credentialJSON(credential);
  }

  // Tokens.
  async function signedIn(answer) {
    state.access = answer.access_token;
    if (answer.refresh_token) state.refresh = answer.refresh_token;
    clearTimeout(state.timer);
    const renewIn = Math.max(10, answer.expires_in - 30) * 1000;
    state.timer = setTimeout(() => refresh().catch(() => signedOut("Your session ended.")), renewIn);
    await loadAccount();
    show("account");
  }

  async function refresh() {
    const body = state.refresh ? { refresh_token: state.refresh } : {};
    await signedIn(await api("POST", "/refresh", body, { auth: false }));
  }

  function signedOut(message) {
    clearTimeout(state.timer);
    Object.assign(state, { access: null, refresh: null, mfaToken: null, retry: null });
    show("signin");
    say(message);
  }

  async function afterLogin(answer) {
    if (answer.mfa_required) {
      state.mfaToken = answer.mfa_token;
      $("passkey-second").hidden = !(answer.second_factors || []).includes("passkey");
      show("second-step");
      say("One more step.");
      return;
    }
    await signedIn(answer);
    say("Signed in.");
  }

  // What the account page shows.
  function item(text, button, action, ...more) {
    const li = document.createElement("li");
    li.textContent = text;
    for (const [label, run] of [[button, action], ...more]) {
      if (!label) continue;
      const control = document.createElement("button");
      control.type = "button";
      control.textContent = label;
      li.append(" ", control);
      control.addEventListener("click", guarded(run));
    }
    return li;
  }

  const when = (stamp) => (stamp ? new Date(stamp).toLocaleString() : "never");

  async function loadAccount() {
    const [me, passkeys, identities, sessions, organizations, invitations] = await Promise.all([
      api("GET", "/users/me"),
      api("GET", "/users/me/passkeys?per_page=100"),
      api("GET", "/users/me/identities?per_page=100"),
      api("GET", "/users/me/sessions?per_page=100"),
      api("GET", "/orgs?per_page=100"),
      api("GET", "/users/me/invitations?per_page=100"),
    ]);
    $("username").textContent = me.username;
    $("organizations").replaceChildren(
      ...organizations.items.map((organization) =>
        item(`${organization.name} (${organization.slug}): ${organization.my_roles.join(", ")}`, "Leave", async () => {
          await api("DELETE", `/orgs/${organization.id}/members/${me.id}`);
          await loadAccount();
          say(`You left ${organization.name}.`);
        }),
      ),
    );
    $("no-invitations").hidden = invitations.items.length > 0;
    $("invitations").replaceChildren(
      ...invitations.items.map((invitation) =>
        item(
          `${invitation.organization.name} (${invitation.organization.slug}), from ${invitation.invited_by || "someone"}, as ${invitation.roles.join(", ")}, until ${when(invitation.expires_at)}`,
          "Accept",
          async () => {
            await api("POST", `/users/me/invitations/${invitation.id}/accept`);
            await loadAccount();
            say(`You joined ${invitation.organization.name}.`);
          },
          [
            "Decline",
            async () => {
              await api("DELETE", `/users/me/invitations/${invitation.id}`);
              await loadAccount();
              say(`Invitation to ${invitation.organization.name} declined.`);
            },
          ],
        ),
      ),
    );
    $("passkeys").replaceChildren(
      ...passkeys.items.map((passkey) =>
        item(`${passkey.name} (added ${when(passkey.created_at)}, last used ${when(passkey.last_used_at)})`, "Remove", async () => {
          await api("DELETE", `/users/me/passkeys/${passkey.id}`);
          await loadAccount();
          say(`Passkey ${passkey.name} removed.`);
        }),
      ),
    );
    $("identities").replaceChildren(
      ...identities.items.map((identity) =>
        item(`${identity.provider}${identity.email ? ` (${identity.email})` : ""}, linked ${when(identity.created_at)}`, "Unlink", async () => {
          await api("DELETE", `/users/me/identities/${identity.id}`);
          await loadAccount();
          say(`${identity.provider} unlinked.`);
        }),
      ),
    );
    $("sessions").replaceChildren(
      ...sessions.items.map((session) =>
        item(
          `${session.current ? "This session" : session.user_agent || "A session"}, from ${session.ip_address || "?"}, last used ${when(session.last_used_at)}`,
          session.current ? null : "End",
          async () => {
            await api("DELETE", `/users/me/sessions/${session.id}`);
            await loadAccount();
            say("Session ended.");
          },
        ),
      ),
    );
    $("totp-state").textContent = me.mfa_enabled ? "On: sign-in asks for a code." : "Off.";
    $("totp-start").hidden = me.mfa_enabled;
    $("totp-disable").hidden = !me.mfa_enabled;
  }

  // Sign-in.
  on("password-form", "submit", async (e) => {
    const answer = await api("POST", "/login", values(e.target), { auth: false });
    e.target.reset();
    await afterLogin(answer);
  });
  on("passkey-signin", "click", async () => {
    const answer = await api("POST", "/login/passkey", { credential: await passkeyAnswer() }, { auth: false });
    await afterLogin(answer);
  });
  on("code-form", "submit", async (e) => {
    const { code } = values(e.target);
    const field = /^[0-9]{6}$/.test(code) ? "code" : "recovery_code";
    const answer = await api("POST", "/login/mfa", { mfa_token: state.mfaToken, [field]: code }, { auth: false });
    e.target.reset();
    await afterLogin(answer);
  });
  on("passkey-second", "click", async () => {
    const credential = await passkeyAnswer();
    await afterLogin(await api("POST", "/login/mfa", { mfa_token: state.mfaToken, credential }, { auth: false }));
  });
  on("signout", "click", async () => {
    await api("POST", "/logout");
    signedOut("Signed out.");
  });

  // Confirming it is you, then what asked for it.
  async function confirmed(proof) {
    await api("POST", "/reauthenticate", proof);
    show("account");
    const retry = state.retry;
    state.retry = null;
    say("Confirmed.");
    if (retry) await retry();
  }
  on("reauth-form", "submit", async (e) => {
    const proof = values(e.target);
    e.target.reset();
    await confirmed(proof);
  });
  on("passkey-reauth", "click", async () => confirmed({ credential: await passkeyAnswer() }));

  // Passkeys.
  on("passkey-add", "submit", async (e) => {
    const { name } = values(e.target);
    const options = await api("POST", "/users/me/passkeys/options");
    const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
    const added = await api("POST", "/users/me/passkeys", { credential: credentialJSON(credential), ...(name ? { name } : {}) });
    e.target.reset();
    await loadAccount();
    say(`Passkey ${added.name} added.`);
  });

  // The authenticator app.
  on("totp-start", "click", async () => {
    const enrolment = await api("POST", "/users/me/mfa/totp");
    // (qr_svg is written to sit in a page; as an image of its own it needs its namespace.)
    const svg = enrolment.qr_svg.includes("xmlns=")
      ? enrolment.qr_svg
      : enrolment.qr_svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ');
    $("totp-qr").src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    $("totp-secret").textContent = enrolment.secret;
    $("totp-enrol").hidden = false;
    $("totp-start").hidden = true;
    say("Scan the code, then type the first code your app shows.");
  });
  on("totp-confirm", "submit", async (e) => {
    const answer = await api("POST", "/users/me/mfa/totp/confirm", values(e.target));
    e.target.reset();
    $("totp-enrol").hidden = true;
    $("recovery-codes").replaceChildren(...answer.recovery_codes.map((code) => item(code)));
    $("recovery").hidden = false;
    await loadAccount();
    say("Two-step sign-in is on.");
  });
  on("totp-disable", "submit", async (e) => {
    await api("POST", "/users/me/mfa/disable", values(e.target));
    e.target.reset();
    $("recovery").hidden = true;
    await loadAccount();
    say("Two-step sign-in is off.");
  });

  // The password.
  on("password-change", "submit", async (e) => {
    const answer = await api("PUT", "/users/me/password", values(e.target));
    e.target.reset();
    await signedIn(answer);
    say("Password changed: your other sessions have ended.");
  });

  // Providers (OIDC_PROVIDERS): a sign-in leaves for the provider and comes back here with a
  // single-use code in the address, exchanged at once and taken out of the address. Only a code
  // this page asked for is exchanged (a link from elsewhere with ?code= is ignored), and the
  // server takes it only from the browser that started the sign-in (its cookie).
  const STARTED = "gatehouse.providerSignIn";
  async function showProviders() {
    const { items } = await api("GET", "/providers", undefined, { auth: false });
    $("providers").replaceChildren(
      ...items.map((provider) => {
        const li = document.createElement("li");
        const link = document.createElement("a");
        link.href = provider.login_url;
        link.textContent = `Sign in with ${provider.name}`;
        link.addEventListener("click", () => sessionStorage.setItem(STARTED, provider.name));
        li.append(link);
        return li;
      }),
    );
  }

  async function start() {
    showProviders().catch(() => {});
    const back = new URLSearchParams(location.search);
    history.replaceState(null, "", location.pathname);
    const started = sessionStorage.getItem(STARTED);
    sessionStorage.removeItem(STARTED);
    if (back.has("code") && started) {
      await afterLogin(await api("POST", "/login/oidc/exchange", { code: back.get("code") }, { auth: false }));
      return;
    }
    // A session kept in the refresh cookie (browser mode) survives a reload.
    await refresh();
    if (back.has("link_code")) {
      await refresh();
      const provider = back.get("provider");
      await api("POST", `/users/me/identities/${encodeURIComponent(provider)}/confirm`, { link_code: back.get("link_code") });
      say(`Linked ${provider}.`);
      return;
    }
    say(back.has("code") ? "A sign-in this page did not start was ignored." : "Signed in.");
  }

  start().catch((error) => signedOut(error.status === 401 ? "" : error.message));
})();
