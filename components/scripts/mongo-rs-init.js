// The replica set's init container: `mongosh --nodb --quiet --norc mongo-rs-init.js`.
//
// 1. loop: read every member's replSetGetConfig and the set's status, ask
//    mongo-rs-plan.js what to do (initiate / reconfig one safe step / step down /
//    wait / nothing) and do it, until the plan says nothing is left to do.
//    Initiating waits for every member (replSetInitiate's quorum check needs
//    them all); once the set exists, a member that does not answer is not
//    waited for;
// 2. set the cluster-wide default read and write concern to majority (before any
//    reconfig too: MongoDB 5.0+ refuses a reconfig that changes the implicit
//    default write concern, e.g. adding an arbiter, until one is set explicitly);
// 3. create the root user if it is missing, or reset its password/roles;
// 4. drop the cluster key (file and memory);
// 5. as root: create or update the application users (spec.users, passwords from
//    USERS_FILE), and drop those infra created that are no longer listed;
// 6. stay up and refresh a health file for the Docker healthcheck while the set
//    can take majority writes.
//
// Credentials: the root user whenever its login works. The internal `__system`
// user (keyFile contents as password, authSource=local) is used only to
// bootstrap - before the root user exists, or to reset a root password that no
// longer logs in - because MongoDB advises against using it otherwise
// (https://www.mongodb.com/docs/manual/reference/built-in-roles/#mongodb-authrole-__system).
// The localhost exception cannot help: this container is not on a member's
// localhost.
//
// Every command is bounded: majority writes carry maxTimeMS and a wtimeout
// (mongo-rs-plan.js), the connection a socket timeout, so nothing outlives
// the deadline when no majority is reachable.
//
// Secrets come from files (uploads), never from the environment or the command
// line, which `docker inspect` shows.
//
// Environment: RS_SPEC (JSON, see mongo-rs-plan.js), KEYFILE, ROOT_PASSWORD_FILE,
// PLAN_JS, HEALTH_FILE, WAIT_SECONDS; USERS_FILE (JSON {name: password}, with
// spec.users); TLS_CA_FILE (mongo.tls: every connection over TLS, the members'
// certificates verified with this CA). Exits 1 when the set does not converge in time.
/* global load, sleep, quit, print, Mongo */
"use strict";

const fs = require("fs");

const env = process.env;
const spec = JSON.parse(env.RS_SPEC);
load(env.PLAN_JS || "/usr/local/lib/infra/mongo-rs-plan.js");
const Plan = globalThis.RsPlan;
const keyFile = env.KEYFILE || "/run/secrets/mongo-keyfile";
let key = fs.existsSync(keyFile) ? fs.readFileSync(keyFile, "utf8").replace(/\s+/g, "") : null;
const rootPassword = fs.readFileSync(env.ROOT_PASSWORD_FILE || "/run/secrets/mongo-root-password", "utf8").trim();
const healthFile = env.HEALTH_FILE || "/tmp/mongo-rs-healthy";
const deadline = Date.now() + Number(env.WAIT_SECONDS || 180) * 1000;
const usersFile = env.USERS_FILE || "";
const userPasswords = usersFile ? JSON.parse(fs.readFileSync(usersFile, "utf8")) : {};
const OPTIONS = "directConnection=true&serverSelectionTimeoutMS=3000&connectTimeoutMS=3000" +
  "&socketTimeoutMS=90000" + (env.TLS_CA_FILE ? `&tls=true&tlsCAFile=${env.TLS_CA_FILE}` : "");

const connections = {};

function isOk(reply) {
  return Boolean(reply) && Number(reply.ok) === 1;
}

function log(message) {
  print(`mongo-rs-init: ${message}`);
}

function fail(message) {
  log(`FAILED: ${message}`);
  quit(1);
}

function timeLeft() {
  return Date.now() < deadline;
}

function loginUri(host, user, password) {
  const creds = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  return `mongodb://${creds}@${host}/?authSource=${spec.authSource}&${OPTIONS}`;
}

function rootUri(host) {
  return loginUri(host, spec.rootUser, rootPassword);
}

function systemUri(host) {
  return `mongodb://__system:${encodeURIComponent(key)}@${host}/?authSource=local&${OPTIONS}`;
}

function tryConnect(uri) {
  try {
    return { conn: new Mongo(uri) };
  } catch (e) {
    return { error: e };
  }
}

// The root user if it can log in; else `__system` while the key is held.
function connection(host) {
  if (connections[host]) return connections[host];
  const root = tryConnect(rootUri(host));
  if (root.conn) {
    connections[host] = { conn: root.conn, system: false };
  } else if (key !== null && root.error.code !== undefined) {
    const system = tryConnect(systemUri(host));
    if (!system.conn) throw system.error;
    connections[host] = { conn: system.conn, system: true };
  } else {
    throw root.error;
  }
  return connections[host];
}

function forget(host) {
  const c = connections[host];
  delete connections[host];
  try {
    if (c) c.conn.close();
  } catch (e) {
    // already closed: nothing to release
  }
}

// A command's reply; errors come back as {ok: 0, code, codeName, errmsg}, never thrown.
function run(host, command, dbName) {
  try {
    return connection(host).conn.getDB(dbName || "admin").runCommand(command);
  } catch (e) {
    if (e.code === undefined) forget(host); // network error: reconnect next time
    return { ok: 0, code: e.code, codeName: e.codeName || e.name, errmsg: e.message };
  }
}

function observe() {
  const configs = {};
  let status = null;
  for (const m of spec.members) {
    const reply = run(m.host, { replSetGetConfig: 1 });
    if (reply.code !== undefined || isOk(reply)) configs[m.host] = reply; // else: no answer
    if (status === null && isOk(reply)) {
      const st = run(m.host, { replSetGetStatus: 1 });
      if (isOk(st)) status = st;
    }
  }
  const primary = Plan.primaryOf(status);
  const primaryConfig = primary ? run(primary, { replSetGetConfig: 1, commitmentStatus: true }) : null;
  return { configs: configs, status: status, primaryConfig: primaryConfig };
}

function ensureRwConcern(primary) {
  const step = Plan.planRwConcern(run(primary, { getDefaultRWConcern: 1 }));
  if (step.action === "none") return true;
  const reply = run(primary, step.command);
  if (!isOk(reply) || reply.writeConcernError) {
    log(`setDefaultRWConcern on ${primary}: ${reply.errmsg || reply.writeConcernError.errmsg}`);
    return false;
  }
  log("default read and write concern set to majority");
  return true;
}

function act(step) {
  if (step.action === "initiate") {
    return run(step.on, { replSetInitiate: step.config, maxTimeMS: Plan.COMMAND_TIMEOUT_MS });
  }
  if (step.action === "reconfig") {
    if (!ensureRwConcern(step.on)) return { ok: 0, errmsg: "default write concern not set yet" };
    return run(step.on, { replSetReconfig: step.config, maxTimeMS: 60000 });
  }
  if (step.action === "stepDown") {
    // Since 4.2 a step-down no longer closes every connection; ours is dropped
    // anyway so that the next round finds the new primary from scratch.
    const reply = run(step.on, step.command);
    forget(step.on);
    return reply;
  }
  return { ok: 1 };
}

function reconcile() {
  let lastReason = "";
  for (;;) {
    const step = Plan.plan(spec, observe());
    if (step.action === "none") return;
    if (step.action === "refuse") fail(step.reason);
    if (step.action === "wait") {
      if (step.reason !== lastReason) log(`waiting: ${step.reason}`);
      lastReason = step.reason;
    } else {
      log(`${step.action} on ${step.on}: ${step.changes.join("; ")}`);
      const reply = act(step);
      if (!isOk(reply)) log(`${step.action} did not succeed yet: ${reply.errmsg}`);
      lastReason = `last step ${step.action}`;
    }
    if (!timeLeft()) fail(`the replica set did not converge: ${lastReason}`);
    sleep(1000);
  }
}

function rootLoginWorks(host) {
  return loginWorks(rootUri(host));
}

function loginWorks(uri) {
  const attempt = tryConnect(uri);
  if (!attempt.conn) return false;
  try {
    const reply = attempt.conn.getDB("admin").runCommand({ connectionStatus: 1 });
    return isOk(reply) && reply.authInfo.authenticatedUsers.length > 0;
  } catch (e) {
    return false;
  } finally {
    try {
      attempt.conn.close();
    } catch (e) {
      // already closed: nothing to release
    }
  }
}

function ensureRootUser(primary) {
  const info = run(primary, { usersInfo: spec.rootUser }, spec.authSource);
  const step = Plan.planRootUser(info, isOk(info) && rootLoginWorks(primary));
  let reply = { ok: 1 };
  if (step.action === "create" || step.action === "update") {
    reply = run(primary, Plan.rootUserCommand(step.action, spec.rootUser, rootPassword), spec.authSource);
  } else if (step.action === "wait") {
    reply = { ok: 0, errmsg: step.reason };
  }
  if (!isOk(reply) || reply.writeConcernError) {
    log(`root user '${spec.rootUser}' not ${step.action}d yet: ${reply.errmsg || reply.writeConcernError.errmsg}`);
    return false;
  }
  if (step.action !== "none") log(`root user '${spec.rootUser}': ${step.action}d`);
  return true;
}

function finish() {
  for (;;) {
    const primary = Plan.primaryOf(observe().status);
    if (primary && ensureRwConcern(primary) && ensureRootUser(primary)) return primary;
    if (!timeLeft()) fail("could not set the default write concern or the root user");
    sleep(1000);
  }
}

// One pass over the application users on `primary`, as root; false: retry.
function ensureUsers(primary) {
  const wanted = spec.users || [];
  const logins = {};
  for (const u of wanted) {
    if (typeof userPasswords[u.name] !== "string") fail(`no password for user '${u.name}' in ${usersFile}`);
    logins[u.name] = loginWorks(loginUri(primary, u.name, userPasswords[u.name]));
  }
  const info = run(primary, { usersInfo: 1 }, spec.authSource);
  for (const step of Plan.planUsers(info, wanted, logins, spec.rootUser)) {
    if (step.action === "none") continue;
    if (step.action === "wait") {
      log(`users not read yet: ${step.reason}`);
      return false;
    }
    const done = { create: "created", update: "updated", drop: "dropped" }[step.action];
    const reply = run(primary, Plan.userCommand(step, userPasswords[step.user]), spec.authSource);
    if (!isOk(reply) || reply.writeConcernError) {
      log(`user '${step.user}' not ${done} yet: ${reply.errmsg || reply.writeConcernError.errmsg}`);
      return false;
    }
    log(`user '${step.user}': ${done}${step.reason ? ` (${step.reason})` : ""}`);
  }
  return true;
}

function finishUsers(primary) {
  for (let on = primary; ; on = Plan.primaryOf(observe().status)) {
    if (on && ensureUsers(on)) return;
    if (!timeLeft()) fail("could not create or update the application users");
    sleep(1000);
  }
}

// Bootstrap is over: forget the cluster key and every `__system` connection;
// from here on only the root user is used.
function dropKey() {
  for (const host of Object.keys(connections)) {
    if (connections[host].system) forget(host);
  }
  key = null;
  if (fs.existsSync(keyFile)) fs.unlinkSync(keyFile);
}

function readiness() {
  for (const m of spec.members) {
    const status = run(m.host, { replSetGetStatus: 1 });
    if (!isOk(status)) continue;
    const config = run(m.host, { replSetGetConfig: 1 });
    return Plan.health(status, isOk(config) ? config.config : null);
  }
  return Plan.health(null);
}

function watch() {
  for (;;) {
    const h = readiness();
    if (h.healthy) {
      fs.writeFileSync(healthFile, JSON.stringify(h));
    } else if (fs.existsSync(healthFile)) {
      fs.unlinkSync(healthFile);
    }
    sleep(5000);
  }
}

reconcile();
const readyOn = finish();
dropKey();
finishUsers(readyOn);
log("replica set ready");
watch();
