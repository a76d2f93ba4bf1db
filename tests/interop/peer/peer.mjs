// An independent ActivityPub peer built with Fedify, for Archipel's interop tests.
//
// Usage: node peer.mjs [--port PORT] [--host 127.0.0.1] [--first-knock SPEC] [--rsa-only]
//
// It runs one local actor, `bob` (a Person), the way a small Fedify-based
// server would, and exposes an unsigned JSON control API under /_control/
// so that a test can make bob follow, reply, like, announce, ... and read
// what bob's inboxes received.  Everything is kept in memory.
//
// On startup it prints exactly one line to stdout:
//   PEER READY http://127.0.0.1:PORT
// Diagnostics go to stderr only.

import http from "node:http";
import { parseArgs } from "node:util";

import { Temporal } from "@js-temporal/polyfill";
import {
  createFederation,
  exportJwk,
  generateCryptoKeyPair,
  MemoryKvStore,
} from "@fedify/fedify";
import {
  Accept,
  Activity,
  Announce,
  Create,
  Delete,
  Endpoints,
  Follow,
  isActor,
  Like,
  Mention,
  Note,
  Object as APObject,
  Person,
  PUBLIC_COLLECTION,
  Tombstone,
  Undo,
  Update,
} from "@fedify/vocab";

// ---------------------------------------------------------------------------
// Command line

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    // Signature spec of the first attempt to an unknown server: Fedify's
    // default is "rfc9421"; it retries with the other one on a 4xx/5xx.
    "first-knock": { type: "string", default: "rfc9421" },
    // Do not give bob an Ed25519 key (no Object Integrity Proofs then).
    "rsa-only": { type: "boolean", default: false },
  },
});

const USERNAME = "bob";
const firstKnock = args["first-knock"];
if (firstKnock !== "rfc9421" && firstKnock !== "draft-cavage-http-signatures-12") {
  console.error(`peer: unknown --first-knock ${firstKnock}`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// Outgoing HTTP log: wrap fetch so that every request Fedify (or this file)
// makes is recorded with its signature scheme and the response status.

const outgoing = [];
const originalFetch = globalThis.fetch;

function signatureScheme(headers) {
  if (headers.get("signature-input") != null) return "rfc9421";
  if (headers.get("signature") != null) return "draft-cavage";
  return "none";
}

globalThis.fetch = async function loggedFetch(input, init) {
  const request = new Request(input, init);
  const entry = {
    at: new Date().toISOString(),
    method: request.method,
    url: request.url,
    signature: signatureScheme(request.headers),
    status: null,
    error: null,
    body: null,
  };
  if (request.method === "POST") {
    const text = await request.clone().text();
    try {
      entry.body = JSON.parse(text);
    } catch {
      entry.body = text;
    }
  }
  outgoing.push(entry);
  try {
    const response = await originalFetch(request);
    entry.status = response.status;
    return response;
  } catch (error) {
    entry.error = String(error?.cause ?? error);
    throw error;
  }
};

// ---------------------------------------------------------------------------
// In-memory state

let baseUrl = null; // "http://127.0.0.1:PORT", known once listening
const keyPairs = []; // CryptoKeyPair[]: RSA first (main-key), then Ed25519
const received = []; // records of incoming activities
const inboxErrors = []; // errors thrown while handling incoming activities
const followers = new Map(); // actor id -> Actor (a Recipient)
const following = new Map(); // actor id -> Follow id (once accepted)
const sent = new Map(); // activity id -> { activity, recipients }
const notes = new Map(); // note id -> { note, recipients, createId }
const deletedNotes = new Set(); // note ids that now answer 410 Gone

const actorUri = () => new URL(`/users/${USERNAME}`, baseUrl);
const followersUri = () => new URL(`/users/${USERNAME}/followers`, baseUrl);
const newActivityId = () => new URL(`/users/${USERNAME}/activities/${crypto.randomUUID()}`, baseUrl);
const newNoteId = () => new URL(`/users/${USERNAME}/notes/${crypto.randomUUID()}`, baseUrl);

// ---------------------------------------------------------------------------
// Federation

const federation = createFederation({
  kv: new MemoryKvStore(),
  // No queue: sendActivity delivers before it returns and throws on failure,
  // so a control call returns after delivery and can report errors.
  allowPrivateAddress: true, // loopback peers only: never outside tests
  firstKnock,
  userAgent: { software: "ArchipelInteropPeer/0.1" },
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Bob (Fedify peer)",
      summary: "<p>An independent ActivityPub peer for interop tests.</p>",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      outbox: ctx.getOutboxUri(identifier),
      followers: ctx.getFollowersUri(identifier),
      following: ctx.getFollowingUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      manuallyApprovesFollowers: false,
      discoverable: true,
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === USERNAME ? keyPairs : []));

federation
  .setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    return { items: [...followers.values()] };
  })
  .setCounter((_ctx, identifier) => (identifier === USERNAME ? followers.size : null));

federation
  .setFollowingDispatcher("/users/{identifier}/following", (_ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    return { items: [...following.keys()].map((id) => new URL(id)) };
  })
  .setCounter((_ctx, identifier) => (identifier === USERNAME ? following.size : null));

federation
  .setOutboxDispatcher("/users/{identifier}/outbox", (_ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    return { items: [] };
  })
  .setCounter(() => 0);

federation.setObjectDispatcher(Note, "/users/{identifier}/notes/{id}", (ctx, values) => {
  if (values.identifier !== USERNAME) return null;
  const url = new URL(`/users/${values.identifier}/notes/${values.id}`, ctx.origin).href;
  return notes.get(url)?.note ?? null;
});

function sigSchemeOf(headers) {
  if (headers == null) return null;
  if (headers["signature-input"] != null) return "rfc9421";
  if (headers["signature"] != null) return "draft-cavage";
  return "none";
}

async function record(ctx, activity, verified, reason) {
  let fedify = null;
  try {
    fedify = await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
  } catch (error) {
    fedify = { error: String(error) };
  }
  const raw = ctx.data?.rawBody ?? fedify;
  const rawObject = raw?.object;
  const entry = {
    type: activity.constructor.typeId?.href?.replace("https://www.w3.org/ns/activitystreams#", "")
      ?? raw?.type ?? null,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    object: activity.objectId?.href ?? null,
    objectType: rawObject != null && typeof rawObject === "object" ? rawObject.type ?? null : null,
    verified,
    reason: reason == null ? null : describeReason(reason),
    signature: sigSchemeOf(ctx.data?.headers),
    inbox: ctx.data?.path ?? null,
    receivedAt: new Date().toISOString(),
    raw,
    fedify,
  };
  received.push(entry);
  return entry;
}

function describeReason(reason) {
  if (reason == null || typeof reason !== "object") return String(reason);
  const out = {};
  for (const [k, v] of Object.entries(reason)) {
    out[k] = v instanceof Error ? String(v) : v instanceof URL ? v.href : v;
  }
  return out;
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .setSharedKeyDispatcher(() => ({ identifier: USERNAME }))
  // Fedify calls listeners only for requests whose signature it verified
  // (HTTP Signatures, or an LD signature / proof it could check).
  .on(Activity, async (ctx, activity) => {
    await record(ctx, activity, true, null);
    if (activity instanceof Follow && activity.objectId?.href === actorUri().href) {
      // Answer asynchronously, as Mastodon does: the sender's POST must not
      // wait for our Accept to be delivered back to it.
      acceptFollow(activity).catch((error) => {
        inboxErrors.push({ at: new Date().toISOString(), error: `Accept failed: ${error}` });
      });
    } else if (activity instanceof Accept) {
      const followId = activity.objectId?.href;
      const follow = followId == null ? null : sent.get(followId);
      if (follow != null && follow.activity instanceof Follow) {
        following.set(follow.activity.objectId.href, followId);
      }
    } else if (activity instanceof Undo) {
      const object = activity.objectId?.href;
      const rawObject = ctx.data?.rawBody?.object;
      const isFollow = rawObject != null && typeof rawObject === "object" && rawObject.type === "Follow";
      if (isFollow || [...received].some((r) => r.type === "Follow" && r.id === object)) {
        const actorId = activity.actorId?.href;
        if (actorId != null) followers.delete(actorId);
      }
    }
  })
  .onUnverifiedActivity(async (ctx, activity, reason) => {
    // Recorded for the tests' sake; Fedify still answers 401.
    await record(ctx, activity, false, reason);
  })
  .onError((_ctx, error) => {
    inboxErrors.push({ at: new Date().toISOString(), error: String(error?.stack ?? error) });
  });

async function acceptFollow(follow) {
  const ctx = federation.createContext(new URL(baseUrl), undefined);
  const loader = await ctx.getDocumentLoader({ identifier: USERNAME });
  const follower = await follow.getActor({ documentLoader: loader, contextLoader: ctx.contextLoader });
  if (follower == null || follower.id == null || follower.inboxId == null) {
    throw new Error(`cannot resolve the follower ${follow.actorId?.href}`);
  }
  followers.set(follower.id.href, follower);
  const accept = new Accept({
    id: newActivityId(),
    actor: actorUri(),
    object: follow,
    to: follower.id,
  });
  sent.set(accept.id.href, { activity: accept, recipients: [follower] });
  await ctx.sendActivity({ identifier: USERNAME }, follower, accept);
}

// ---------------------------------------------------------------------------
// Helpers for the control API

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function context() {
  return federation.createContext(new URL(baseUrl), undefined);
}

// Resolves an actor URL or a handle (user@host[:port], plain-http WebFinger).
async function resolveActor(input) {
  if (typeof input !== "string" || input === "") throw new HttpError(400, "an actor URL is required");
  let url = input;
  if (!/^https?:\/\//.test(input)) {
    const handle = input.replace(/^acct:/, "").replace(/^@/, "");
    const at = handle.lastIndexOf("@");
    if (at < 1) throw new HttpError(400, `not an actor URL nor a handle: ${input}`);
    const host = handle.slice(at + 1);
    const wf = new URL(`http://${host}/.well-known/webfinger`);
    wf.searchParams.set("resource", `acct:${handle}`);
    const response = await fetch(wf, { headers: { Accept: "application/jrd+json" } });
    if (!response.ok) throw new HttpError(502, `WebFinger ${wf.href}: HTTP ${response.status}`);
    const jrd = await response.json();
    const self = (jrd.links ?? []).find(
      (l) => l.rel === "self" && l.href != null
        && (l.type === "application/activity+json" || /^application\/ld\+json/.test(l.type ?? "")),
    );
    if (self == null) throw new HttpError(502, `WebFinger ${wf.href}: no self link`);
    url = self.href;
  }
  const { object } = await fetchObject(url);
  if (!isActor(object)) throw new HttpError(502, `${url} is not an actor`);
  if (object.inboxId == null) throw new HttpError(502, `${url} has no inbox`);
  return object;
}

// Fetches a document with bob's signed GET (Fedify's authenticated document
// loader, double-knocking) and parses it with Fedify's vocabulary.
async function fetchObject(url) {
  const ctx = context();
  const documentLoader = await ctx.getDocumentLoader({ identifier: USERNAME });
  const remote = await documentLoader(new URL(url).href);
  const object = await APObject.fromJsonLd(remote.document, {
    documentLoader,
    contextLoader: ctx.contextLoader,
    baseUrl: new URL(remote.documentUrl),
  });
  if (object.id != null && object.id.origin !== new URL(remote.documentUrl).origin) {
    throw new Error(
      `the object's id ${object.id.href} has another origin than ${remote.documentUrl}`,
    );
  }
  return { object, remote, contextLoader: ctx.contextLoader };
}

// An error message with its chain of causes (fetch hides ECONNREFUSED there).
function describeError(error) {
  const parts = [];
  for (let e = error, depth = 0; e != null && depth < 5; e = e.cause, depth++) {
    const text = String(e?.message ?? e);
    if (!parts.includes(text)) parts.push(text);
  }
  return parts.join(": ");
}

function dedupeRecipients(list) {
  const seen = new Map();
  for (const r of list) if (r?.id != null && !seen.has(r.id.href)) seen.set(r.id.href, r);
  return [...seen.values()];
}

// Sends an activity and reports the outgoing requests it caused.  Like
// Mastodon, posts go to shared inboxes (shared: true) while Follow, Accept,
// Like and their Undo go to personal inboxes.
async function deliver(activity, recipients, { shared = false } = {}) {
  const ctx = context();
  const start = outgoing.length;
  const result = { ok: true, id: activity.id.href, error: null, status: null };
  sent.set(activity.id.href, { activity, recipients });
  try {
    if (recipients.length > 0) {
      await ctx.sendActivity({ identifier: USERNAME }, recipients, activity, {
        preferSharedInbox: shared,
      });
    }
  } catch (error) {
    result.ok = false;
    result.error = describeError(error);
    if (error?.statusCode != null) {
      result.status = error.statusCode;
      result.responseBody = error.responseBody ?? null;
    }
  }
  result.requests = outgoing.slice(start);
  // The activity as it went on the wire (with Fedify's LD signature and
  // proof), else as Fedify serialises it.
  const posted = result.requests.find((r) => r.method === "POST" && r.body?.id === activity.id.href);
  result.activity = posted?.body
    ?? await activity.toJsonLd({ format: "compact", contextLoader: ctx.contextLoader });
  result.inboxes = [...new Set(result.requests.filter((r) => r.method === "POST").map((r) => r.url))];
  return result;
}

function requireString(body, key) {
  const value = body?.[key];
  if (typeof value !== "string" || value === "") throw new HttpError(400, `"${key}" is required`);
  return value;
}

function mentionName(actor) {
  const user = actor.preferredUsername ?? "unknown";
  return `@${user}@${actor.id.host}`;
}

function ownNote(id) {
  const entry = notes.get(id);
  if (entry == null) throw new HttpError(404, `no note of bob with id ${id}`);
  return entry;
}

async function createNote({ content, inReplyTo, mentioned }) {
  const published = Temporal.Now.instant();
  const id = newNoteId();
  const ccs = [...mentioned.map((a) => a.id), followersUri()];
  const note = new Note({
    id,
    attribution: actorUri(),
    content,
    published,
    url: id,
    to: PUBLIC_COLLECTION,
    ccs,
    replyTarget: inReplyTo == null ? null : new URL(inReplyTo),
    tags: mentioned.map((a) => new Mention({ href: a.id, name: mentionName(a) })),
  });
  const create = new Create({
    id: newActivityId(),
    actor: actorUri(),
    object: note,
    published,
    to: PUBLIC_COLLECTION,
    ccs,
  });
  const recipients = dedupeRecipients([...mentioned, ...followers.values()]);
  notes.set(id.href, { note, recipients, createId: create.id.href });
  const result = await deliver(create, recipients, { shared: true });
  return { ...result, id: id.href, activity_id: create.id.href, note: result.activity.object };
}

// ---------------------------------------------------------------------------
// Control API

const control = {
  "GET /_control/received": async () => received,
  "DELETE /_control/received": async () => {
    received.length = 0;
    return { ok: true };
  },
  "GET /_control/sent": async () => outgoing,
  "GET /_control/state": async () => ({
    actor: actorUri().href,
    followers: [...followers.keys()],
    following: [...following.keys()],
    notes: [...notes.keys()],
    deleted: [...deletedNotes],
    errors: inboxErrors,
  }),

  "POST /_control/follow": async (body) => {
    const target = await resolveActor(requireString(body, "actor"));
    const follow = new Follow({ id: newActivityId(), actor: actorUri(), object: target.id, to: target.id });
    return { ...(await deliver(follow, [target])), actor: target.id.href };
  },

  "POST /_control/unfollow": async (body) => {
    const target = await resolveActor(requireString(body, "actor"));
    const follows = [...sent.values()].filter(
      (s) => s.activity instanceof Follow && s.activity.objectId?.href === target.id.href,
    );
    if (follows.length === 0) throw new HttpError(404, `bob never followed ${target.id.href}`);
    const follow = follows[follows.length - 1].activity;
    const undo = new Undo({ id: newActivityId(), actor: actorUri(), object: follow, to: target.id });
    following.delete(target.id.href);
    return await deliver(undo, [target]);
  },

  "POST /_control/reply": async (body) => {
    const inReplyTo = requireString(body, "inReplyTo");
    const to = await resolveActor(requireString(body, "to"));
    const content = requireString(body, "content");
    return await createNote({ content, inReplyTo, mentioned: [to] });
  },

  "POST /_control/post": async (body) => {
    const content = requireString(body, "content");
    const mentioned = [];
    for (const m of body.mention ?? []) mentioned.push(await resolveActor(m));
    return await createNote({ content, inReplyTo: body.inReplyTo ?? null, mentioned });
  },

  "POST /_control/like": async (body) => {
    const object = new URL(requireString(body, "object"));
    const to = await recipientFor(body, object);
    const like = new Like({ id: newActivityId(), actor: actorUri(), object, to: to.id });
    return await deliver(like, [to]);
  },

  "POST /_control/announce": async (body) => {
    const object = new URL(requireString(body, "object"));
    const to = await recipientFor(body, object);
    const announce = new Announce({
      id: newActivityId(),
      actor: actorUri(),
      object,
      published: Temporal.Now.instant(),
      to: PUBLIC_COLLECTION,
      ccs: [to.id, followersUri()],
    });
    return await deliver(announce, dedupeRecipients([to, ...followers.values()]), { shared: true });
  },

  "POST /_control/undo": async (body) => {
    const id = requireString(body, "activity");
    const original = sent.get(id);
    if (original == null) throw new HttpError(404, `bob sent no activity with id ${id}`);
    const undo = new Undo({
      id: newActivityId(),
      actor: actorUri(),
      object: original.activity,
      tos: original.activity.toIds,
      ccs: original.activity.ccIds,
    });
    if (original.activity instanceof Follow) following.delete(original.activity.objectId?.href);
    return await deliver(undo, original.recipients, { shared: original.activity instanceof Announce });
  },

  "POST /_control/delete": async (body) => {
    const id = requireString(body, "object");
    const entry = ownNote(id);
    const del = new Delete({
      id: newActivityId(),
      actor: actorUri(),
      object: new Tombstone({ id: new URL(id), deleted: Temporal.Now.instant() }),
      to: PUBLIC_COLLECTION,
      ccs: entry.note.ccIds,
    });
    deletedNotes.add(id);
    notes.delete(id);
    return await deliver(del, dedupeRecipients([...entry.recipients, ...followers.values()]), { shared: true });
  },

  "POST /_control/update": async (body) => {
    const id = requireString(body, "object");
    const content = requireString(body, "content");
    const entry = ownNote(id);
    const updated = Temporal.Now.instant();
    const note = entry.note.clone({ content, updated });
    entry.note = note;
    const update = new Update({
      id: newActivityId(),
      actor: actorUri(),
      object: note,
      published: updated,
      to: PUBLIC_COLLECTION,
      ccs: note.ccIds,
    });
    const result = await deliver(update, dedupeRecipients([...entry.recipients, ...followers.values()]), {
      shared: true,
    });
    return { ...result, id, activity_id: update.id.href };
  },

  // Sends an arbitrary activity (JSON-LD), signed by bob, to one actor.
  "POST /_control/send": async (body) => {
    const to = await resolveActor(requireString(body, "to"));
    const ctx = context();
    const json = { ...body.activity };
    json.id ??= newActivityId().href;
    json.actor ??= actorUri().href;
    const activity = await Activity.fromJsonLd(json, { contextLoader: ctx.contextLoader });
    return await deliver(activity, [to]);
  },

  "GET /_control/lookup": async (_body, url) => {
    const target = url.searchParams.get("url");
    if (target == null) throw new HttpError(400, '"url" is required');
    try {
      const { object, remote, contextLoader } = await fetchObject(target);
      return {
        ok: true,
        type: object.constructor.typeId?.href?.replace("https://www.w3.org/ns/activitystreams#", "") ?? null,
        id: object.id?.href ?? null,
        isActor: isActor(object),
        documentUrl: remote.documentUrl,
        object: await object.toJsonLd({ format: "compact", contextLoader }),
        raw: remote.document,
      };
    } catch (error) {
      return { ok: false, error: describeError(error) };
    }
  },
};

async function recipientFor(body, object) {
  if (typeof body.to === "string" && body.to !== "") return await resolveActor(body.to);
  // No "to": the object's author.
  const { object: fetched } = await fetchObject(object.href);
  const author = fetched.attributionId ?? fetched.actorId;
  if (author == null) throw new HttpError(400, `"to" is required: ${object.href} has no author`);
  return await resolveActor(author.href);
}

// ---------------------------------------------------------------------------
// HTTP server: control API, a few extra routes, then Fedify.

function sendJson(res, status, value, extraHeaders = {}) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(body);
}

function flattenHeaders(nodeHeaders) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(nodeHeaders)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value != null) headers.set(name, value);
  }
  return headers;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function handle(req, res) {
  const url = new URL(req.url, baseUrl);
  const body = await readBody(req);

  if (url.pathname.startsWith("/_control/")) {
    const route = control[`${req.method} ${url.pathname}`];
    if (route == null) return sendJson(res, 404, { ok: false, error: "no such control route" });
    let parsed = {};
    if (body.length > 0) {
      try {
        parsed = JSON.parse(body.toString("utf8"));
      } catch {
        return sendJson(res, 400, { ok: false, error: "body is not JSON" });
      }
    }
    try {
      return sendJson(res, 200, await route(parsed, url));
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      return sendJson(res, status, { ok: false, error: describeError(error) });
    }
  }

  const href = new URL(url.pathname, baseUrl).href;
  if (req.method === "GET" && deletedNotes.has(href)) {
    const tombstone = { "@context": "https://www.w3.org/ns/activitystreams", id: href, type: "Tombstone" };
    return sendJson(res, 410, tombstone, { "Content-Type": "application/activity+json" });
  }
  if (req.method === "GET" && sent.has(href)) {
    const json = await sent.get(href).activity.toJsonLd({ format: "compact" });
    return sendJson(res, 200, json, { "Content-Type": "application/activity+json" });
  }

  let rawBody = null;
  if (body.length > 0) {
    try {
      rawBody = JSON.parse(body.toString("utf8"));
    } catch {
      rawBody = null;
    }
  }
  const request = new Request(url, {
    method: req.method,
    headers: flattenHeaders(req.headers),
    body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
  });
  const response = await federation.fetch(request, {
    contextData: { rawBody, headers: req.headers, path: url.pathname },
    onNotFound: () => new Response("Not Found", { status: 404, headers: { "Content-Type": "text/plain" } }),
    onNotAcceptable: () =>
      new Response("Not Acceptable", { status: 406, headers: { "Content-Type": "text/plain", Vary: "Accept" } }),
  });
  const responseBody = Buffer.from(await response.arrayBuffer());
  const headers = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  headers["content-length"] = String(responseBody.length);
  res.writeHead(response.status, headers);
  res.end(responseBody);
}

async function main() {
  keyPairs.push(await generateCryptoKeyPair("RSASSA-PKCS1-v1_5"));
  if (!args["rsa-only"]) keyPairs.push(await generateCryptoKeyPair("Ed25519"));
  // Make sure the keys are exportable as Fedify expects (fails early if not).
  await exportJwk(keyPairs[0].privateKey);

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error) => {
      console.error("peer: request failed:", error);
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: String(error) });
      else res.end();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(args.port), args.host, resolve);
  });
  const { port } = server.address();
  const host = args.host.includes(":") ? `[${args.host}]` : args.host;
  baseUrl = `http://${host}:${port}`;

  const shutdown = () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);

  process.stdout.write(`PEER READY ${baseUrl}\n`);
}

main().catch((error) => {
  console.error("peer: failed to start:", error);
  process.exit(1);
});
