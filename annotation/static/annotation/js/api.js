/* The REST API as the pages call it: JSON both ways, Django's CSRF header on every write,
 * and any answer outside 2xx thrown as an ApiError built from the documented error body
 * {"detail": "...", "errors": [{"field" | "line": ..., "message": "..."}]}. */

export class ApiError extends Error {
  /* status 0 with `network` set: the server was never reached. */
  constructor(status, body, { network = false, cause } = {}) {
    const { message, problems } = describeError(status, body, { network });
    super(message, cause ? { cause } : undefined);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.network = network;
    this.detail = detailOf(body);
    this.code = body && typeof body.code === "string" ? body.code : null;
    this.problems = problems;
  }
}

function detailOf(body) {
  return body && typeof body.detail === "string" && body.detail ? body.detail : null;
}

/* A summary line and one line per bad field or input line, ready to show. */
export function describeError(status, body, { network = false } = {}) {
  const message = detailOf(body) ||
    (network ? "The server could not be reached." : `The server answered ${status}.`);
  const errors = body && Array.isArray(body.errors) ? body.errors : [];
  const problems = errors.filter((e) => e && typeof e === "object").map((e) => {
    const where = e.field != null ? String(e.field) : e.line != null ? `line ${e.line}` : "";
    const text = e.message == null ? "" : String(e.message);
    return where ? `${where}: ${text}` : text;
  });
  return { message, problems };
}

export function cookieValue(cookies, name) {
  const prefix = `${name}=`;
  for (const part of String(cookies || "").split(";")) {
    const cookie = part.trim();
    if (cookie.startsWith(prefix)) return decodeURIComponent(cookie.slice(prefix.length));
  }
  return "";
}

export function uuid(crypto = globalThis.crypto) {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // randomUUID needs a secure context; getRandomValues works on plain http too.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/* One Idempotency-Key per thing being submitted, kept until the submit went through, so
 * that a retry after a lost answer is recognised by the server as the same submit. */
export class IdempotencyKeys {
  constructor(generate = uuid) {
    this.generate = generate;
    this.keys = new Map();
  }

  get(scope) {
    if (!this.keys.has(scope)) this.keys.set(scope, this.generate());
    return this.keys.get(scope);
  }

  release(scope) {
    this.keys.delete(scope);
  }
}

/* A page that can keep its work when the session ends mid-task (session.js) listens here:
 * every listener hears each answer that says the user is no longer logged in. */
const sessionLostListeners = new Set();

export function onSessionLost(listener) {
  sessionLostListeners.add(listener);
  return () => sessionLostListeners.delete(listener);
}

/* 401, or a 403 saying no credentials came: the session cookie is gone or expired. */
export function isSessionLost(error) {
  if (error.status === 401) return true;
  return error.status === 403 && /credentials were not provided/i.test(error.detail || "");
}

const isForm = (body) => typeof FormData !== "undefined" && body instanceof FormData;

function parseBody(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (_) {
    return { detail: text.slice(0, 300) };
  }
}

/* `cookies` and `fetch` are injectable so that this runs outside a browser; `csrfFallback`
 * gives a token when the cookie is missing (a form's csrfmiddlewaretoken field). */
export function createApi({
  csrfCookie = "csrftoken",
  cookies = () => document.cookie,
  csrfFallback = () => "",
  fetch: send = (...args) => globalThis.fetch(...args),
} = {}) {
  const csrfToken = () => cookieValue(cookies(), csrfCookie) || csrfFallback() || "";

  /* Resolves to {status, data, serverNow} (serverNow: the Date header in ms, or null). */
  async function request(method, url, { body, headers } = {}) {
    let response;
    let text;
    try {
      response = await send(url, {
        method,
        credentials: "same-origin",
        headers: {
          Accept: "application/json",
          // A FormData body (a file upload) sets its own multipart Content-Type.
          ...(body === undefined || isForm(body) ? {} : { "Content-Type": "application/json" }),
          ...(method === "GET" ? {} : { "X-CSRFToken": csrfToken() }),
          ...headers,
        },
        body: body === undefined || isForm(body) ? body : JSON.stringify(body),
      });
      text = response.status === 204 ? "" : await response.text();
    } catch (cause) {
      throw new ApiError(0, null, { network: true, cause });
    }
    const data = parseBody(text);
    if (!response.ok) {
      const error = new ApiError(response.status, data);
      if (isSessionLost(error)) for (const listener of sessionLostListeners) listener(error);
      throw error;
    }
    const date = Date.parse(response.headers.get("Date") || "");
    return { status: response.status, data, serverNow: Number.isNaN(date) ? null : date };
  }

  return {
    request,
    get: (url) => request("GET", url),
    post: (url, body, headers) => request("POST", url, { body, headers }),
  };
}
