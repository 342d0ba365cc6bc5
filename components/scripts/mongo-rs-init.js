// The replica set's init container: `mongosh --nodb --quiet --norc mongo-rs-init.js`.
//
// 1. wait until every member answers;
// 2. loop: read every member's replSetGetConfig and the set's status, ask
//    mongo-rs-plan.js what to do (initiate / reconfig one safe step / step down /
//    wait / nothing) and do it, until the plan says nothing is left to do;
// 3. set the cluster-wide default read and write concern to majority (before any
//    reconfig too: MongoDB 5.0+ refuses a reconfig that changes the implicit
//    default write concern, e.g. adding an arbiter, until one is set explicitly);
// 4. create the root user if it is missing, or reset its password/roles;
// 5. stay up and refresh a health file for the Docker healthcheck.
//
// It authenticates as the internal `__system` user with the keyFile (the same
// credential the members use between themselves): that works before the set is
// initiated and before any user exists, where the localhost exception does not
// reach (this container is not on the members' localhost).
//
// Environment: RS_SPEC (JSON, see mongo-rs-plan.js), KEYFILE, ROOT_PASSWORD_FILE,
// PLAN_JS, HEALTH_FILE, WAIT_SECONDS. Exits 1 when the set does not converge in time.
/* global load, sleep, quit, print, Mongo */
"use strict";

const fs = require("fs");

const env = process.env;
const spec = JSON.parse(env.RS_SPEC);
load(env.PLAN_JS || "/usr/local/lib/infra/mongo-rs-plan.js");
const Plan = globalThis.RsPlan;
const key = fs.readFileSync(env.KEYFILE || "/run/secrets/mongo-keyfile", "utf8").replace(/\s+/g, "");
const rootPassword = fs.readFileSync(env.ROOT_PASSWORD_FILE || "/run/secrets/mongo-root-password", "utf8").trim();
const healthFile = env.HEALTH_FILE || "/tmp/mongo-rs-healthy";
const deadline = Date.now() + Number(env.WAIT_SECONDS || 180) * 1000;
const OPTIONS = "directConnection=true&serverSelectionTimeoutMS=3000&connectTimeoutMS=3000";

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

function systemConnection(host) {
  if (!connections[host]) {
    const uri = `mongodb://__system:${encodeURIComponent(key)}@${host}/?authSource=local&${OPTIONS}`;
    connections[host] = new Mongo(uri);
  }
  return connections[host];
}

// A command's reply; errors come back as {ok: 0, code, codeName, errmsg}, never thrown.
function run(host, command, dbName) {
  try {
    return systemConnection(host).getDB(dbName || "admin").runCommand(command);
  } catch (e) {
    if (e.code === undefined) delete connections[host]; // network error: reconnect next time
    return { ok: 0, code: e.code, codeName: e.codeName || e.name, errmsg: e.message };
  }
}

function waitForMembers() {
  for (const m of spec.members) {
    for (;;) {
      const reply = run(m.host, { ping: 1 });
      if (isOk(reply)) break;
      if (!timeLeft()) fail(`${m.host} did not answer: ${reply.errmsg}`);
      sleep(1000);
    }
  }
  log(`all ${spec.members.length} members answer`);
}

function observe() {
  const configs = {};
  let status = null;
  for (const m of spec.members) {
    configs[m.host] = run(m.host, { replSetGetConfig: 1 });
    if (status === null && isOk(configs[m.host])) {
      const reply = run(m.host, { replSetGetStatus: 1 });
      if (isOk(reply)) status = reply;
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
  if (!isOk(reply)) {
    log(`setDefaultRWConcern on ${primary}: ${reply.errmsg}`);
    return false;
  }
  log("default read and write concern set to majority");
  return true;
}

function act(step) {
  if (step.action === "initiate") {
    return run(step.on, { replSetInitiate: step.config });
  }
  if (step.action === "reconfig") {
    if (!ensureRwConcern(step.on)) return { ok: 0, errmsg: "default write concern not set yet" };
    return run(step.on, { replSetReconfig: step.config, maxTimeMS: 60000 });
  }
  if (step.action === "stepDown") {
    run(step.on, { replSetStepDown: 60 }); // closes our connection: the reply does not matter
    delete connections[step.on];
    return { ok: 1 };
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
    }
    if (!timeLeft()) fail(`the replica set did not converge: last step ${step.action}`);
    sleep(1000);
  }
}

function rootLoginWorks(host) {
  const user = encodeURIComponent(spec.rootUser);
  const uri = `mongodb://${user}:${encodeURIComponent(rootPassword)}@${host}/` +
    `?authSource=${spec.authSource}&${OPTIONS}`;
  let conn = null;
  try {
    conn = new Mongo(uri);
    const reply = conn.getDB("admin").runCommand({ connectionStatus: 1 });
    return isOk(reply) && reply.authInfo.authenticatedUsers.length > 0;
  } catch (e) {
    return false;
  } finally {
    try {
      if (conn) conn.close();
    } catch (e) {
      // already closed: nothing to release
    }
  }
}

function ensureRootUser(primary) {
  const info = run(primary, { usersInfo: spec.rootUser }, spec.authSource);
  const step = Plan.planRootUser(info, isOk(info) && rootLoginWorks(primary));
  const roles = [{ role: "root", db: "admin" }];
  let reply = { ok: 1 };
  if (step.action === "create") {
    reply = run(primary, { createUser: spec.rootUser, pwd: rootPassword, roles: roles }, spec.authSource);
  } else if (step.action === "update") {
    reply = run(primary, { updateUser: spec.rootUser, pwd: rootPassword, roles: roles }, spec.authSource);
  } else if (step.action === "wait") {
    reply = { ok: 0, errmsg: step.reason };
  }
  if (!isOk(reply)) return false;
  if (step.action !== "none") log(`root user '${spec.rootUser}': ${step.action}d`);
  return true;
}

function currentPrimary() {
  return Plan.primaryOf(observe().status);
}

function finish() {
  for (;;) {
    const primary = currentPrimary();
    if (primary && ensureRwConcern(primary) && ensureRootUser(primary)) return;
    if (!timeLeft()) fail("could not set the default write concern or the root user");
    sleep(1000);
  }
}

function watch() {
  for (;;) {
    let status = null;
    for (const m of spec.members) {
      const reply = run(m.host, { replSetGetStatus: 1 });
      if (isOk(reply)) {
        status = reply;
        break;
      }
    }
    const h = Plan.health(status);
    if (h.healthy) {
      fs.writeFileSync(healthFile, JSON.stringify(h));
    } else if (fs.existsSync(healthFile)) {
      fs.unlinkSync(healthFile);
    }
    sleep(5000);
  }
}

waitForMembers();
reconcile();
finish();
log("replica set ready");
watch();
