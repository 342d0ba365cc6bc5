// Decision logic of the MongoDB replica set init container, kept pure: documents
// in, one decision out. No I/O, no shell globals, so that it runs unchanged in
// mongosh (loaded by mongo-rs-init.js) and in Node.js (the unit tests).
//
//   plan(desired, observed)      -> initiate | reconfig | stepDown | wait | refuse | none
//   planRwConcern(reply)         -> set | none  (getDefaultRWConcern reply)
//   planRootUser(reply, authOk)  -> create | update | none  (usersInfo reply)
//   rootUserCommand(action, ...) -> the bounded createUser / updateUser command
//   planUsers(reply, wanted, logins, rootUser) -> per application user: create |
//                                   update | none, and drop for users infra made
//                                   that are no longer wanted (usersInfo reply)
//   userCommand(step, password)  -> the bounded createUser / updateUser / dropUser
//   health(status)               -> ready (writable majority), primary, degraded members, lag
//
// Every command that writes with w: "majority" carries maxTimeMS and a wtimeout
// (COMMAND_TIMEOUT_MS): with no majority reachable it would otherwise wait forever.
//
// `desired` is the spec the component writes into RS_SPEC:
//   {setName, rootUser, authSource,
//    members: [{host, priority, votes, hidden, secondaryDelaySecs, arbiterOnly}],
//    users: [{name, roles: [{role, db}]}]   (mongo.users; absent when there are none)}
// `observed` holds raw command replies, as MongoDB sends them:
//   {configs: {host: replSetGetConfig reply}, status: replSetGetStatus reply | null,
//    primaryConfig: replSetGetConfig {commitmentStatus: true} reply from the primary | null}
"use strict";

(function (root) {
  const NOT_YET_INITIALIZED = 94;
  const MANAGED = ["priority", "votes", "hidden", "secondaryDelaySecs"];
  const HEALTHY_STATES = ["PRIMARY", "SECONDARY", "ARBITER"];
  const COMMAND_TIMEOUT_MS = 30000;
  const STEPDOWN_SECS = 60; // the old primary stays unelectable this long
  // customData of the application users infra creates: only those are ever dropped.
  const INFRA_USER = { managedBy: "infra" };

  // Numbers arrive as JS numbers, BSON Long/Int32 (mongosh) or extended JSON.
  function num(value, fallback) {
    if (value === undefined || value === null) return fallback;
    if (typeof value === "number") return value;
    if (typeof value.toNumber === "function") return value.toNumber();
    if (typeof value === "object") {
      for (const k of ["$numberLong", "$numberInt", "$numberDouble", "$numberDecimal"]) {
        if (k in value) return Number(value[k]);
      }
    }
    return Number(value);
  }

  function ok(reply) {
    return Boolean(reply) && num(reply.ok, 0) === 1;
  }

  // The fields we manage, with MongoDB's defaults filled in.
  function normalize(member) {
    const arbiter = Boolean(member.arbiterOnly);
    const delay = member.secondaryDelaySecs !== undefined ? member.secondaryDelaySecs : member.slaveDelay;
    return {
      host: member.host,
      arbiterOnly: arbiter,
      priority: num(member.priority, arbiter ? 0 : 1),
      votes: num(member.votes, 1),
      hidden: Boolean(member.hidden),
      secondaryDelaySecs: num(delay, 0),
    };
  }

  function memberDoc(id, want) {
    const doc = { _id: id, host: want.host, priority: want.priority, votes: want.votes };
    if (want.arbiterOnly) {
      doc.arbiterOnly = true;
    } else {
      doc.hidden = want.hidden;
      doc.secondaryDelaySecs = want.secondaryDelaySecs;
    }
    return doc;
  }

  function initialConfig(desired) {
    return {
      _id: desired.setName,
      members: desired.members.map((m, i) => memberDoc(i, normalize(m))),
    };
  }

  // MongoDB only lets a member that can become primary run replSetInitiate or
  // receive a reconfig as primary: priority > 0, a vote, not an arbiter, not
  // hidden, not delayed (checkElectable, src/mongo/db/repl/repl_set_config_checks.cpp).
  function electable(m) {
    return !m.arbiterOnly && m.priority > 0 && m.votes > 0 && !m.hidden && !m.secondaryDelaySecs;
  }

  function primaryOf(status) {
    if (!ok(status) || !Array.isArray(status.members)) return null;
    const p = status.members.find((m) => m.stateStr === "PRIMARY");
    return p ? p.name : null;
  }

  // The newest config any member holds (term, then version); the primary's wins.
  function currentConfig(observed, hosts) {
    if (ok(observed.primaryConfig) && observed.primaryConfig.config) {
      return observed.primaryConfig.config;
    }
    let best = null;
    for (const host of hosts) {
      const reply = observed.configs[host];
      if (!ok(reply) || !reply.config) continue;
      const c = reply.config;
      const key = [num(c.term, -1), num(c.version, 0)];
      if (!best || key[0] > best.key[0] || (key[0] === best.key[0] && key[1] > best.key[1])) {
        best = { key: key, config: c };
      }
    }
    return best ? best.config : null;
  }

  function describe(m) {
    return `${m.host} (priority ${m.priority}, votes ${m.votes}` +
      (m.arbiterOnly ? ", arbiter" : "") + (m.hidden ? ", hidden" : "") +
      (m.secondaryDelaySecs ? `, delay ${m.secondaryDelaySecs}s` : "") + ")";
  }

  function differences(have, want) {
    return MANAGED.filter((f) => have[f] !== want[f]).map((f) => `${f} ${have[f]} -> ${want[f]}`);
  }

  function smallestFreeId(used) {
    let id = 0;
    while (used.has(id)) id += 1;
    return id;
  }

  // One safe step from `current` towards `desired`. MongoDB (4.4+) accepts at most
  // one voting-membership change per reconfig (add a voter, remove a voter, or
  // change one member's votes); everything else can change in the same step.
  //
  // The primary refuses a (non-force) reconfig that would make itself
  // unelectable (NodeNotElectable): removing it, or giving it priority 0,
  // hidden, votes 0 or a delay. Such a change is left for last: every other
  // change runs on the primary first, then the primary steps down and the
  // next primary receives the change.
  function nextStep(current, desired, primary, status) {
    const want = new Map(desired.members.map((m) => [m.host, normalize(m)]));
    const have = current.members.map((m) => ({ doc: m, norm: normalize(m) }));
    const byHost = new Map(have.map((h) => [h.norm.host, h]));
    const yields = mustYield(want.get(primary), byHost.get(primary));
    // arbiterOnly cannot change in place: such a member is removed, then re-added.
    const leaving = have.filter((h) => h.norm.host !== primary || !yields)
      .filter((h) => !want.has(h.norm.host) || want.get(h.norm.host).arbiterOnly !== h.norm.arbiterOnly);
    const leavingHosts = new Set(leaving.map((h) => h.norm.host));
    const joining = desired.members.map(normalize).filter((m) => !byHost.has(m.host));

    const changes = [];
    let votingChangeUsed = false;
    const members = [];
    for (const h of have) {
      const voter = h.norm.votes > 0;
      if (h.norm.host === primary && yields) {
        members.push(copyMember(h.doc)); // the primary's own change comes last
        continue;
      }
      if (leavingHosts.has(h.norm.host)) {
        if (voter && votingChangeUsed) {
          members.push(copyMember(h.doc));
          continue;
        }
        votingChangeUsed = votingChangeUsed || voter;
        changes.push(`remove ${describe(h.norm)}`);
        continue;
      }
      const target = want.get(h.norm.host);
      const diff = differences(h.norm, target);
      const votesChange = target.votes !== h.norm.votes;
      if (diff.length === 0 || (votesChange && votingChangeUsed)) {
        members.push(copyMember(h.doc));
        continue;
      }
      votingChangeUsed = votingChangeUsed || votesChange;
      const updated = copyMember(h.doc);
      for (const f of MANAGED) if (h.norm[f] !== target[f]) updated[f] = target[f];
      if ("slaveDelay" in updated) delete updated.slaveDelay;
      members.push(updated);
      changes.push(`${h.norm.host}: ${diff.join(", ")}`);
    }
    const used = new Set(members.map((m) => num(m._id, -1)));
    for (const h of leaving) used.add(num(h.doc._id, -1)); // ids of members still leaving
    for (const m of joining) {
      if (m.votes > 0 && votingChangeUsed) continue;
      votingChangeUsed = votingChangeUsed || m.votes > 0;
      const id = smallestFreeId(used);
      used.add(id);
      members.push(memberDoc(id, m));
      changes.push(`add ${describe(m)}`);
    }
    if (changes.length) {
      return { action: "reconfig", on: primary, config: withMembers(current, members), changes: changes };
    }
    return yields ? stepDownStep(current, primary, status) : null;
  }

  // Whether the primary must hand over before its own change can be applied.
  function mustYield(target, have) {
    if (!have) return false;
    if (!target) return true; // it leaves the set
    if (target.arbiterOnly !== have.norm.arbiterOnly) return true;
    return !electable(target);
  }

  // Step down only when another healthy member of the current config can win.
  function stepDownStep(current, primary, status) {
    const up = new Set(((status && status.members) || [])
      .filter((m) => m.stateStr === "SECONDARY" && num(m.health, 0) === 1).map((m) => m.name));
    const heir = current.members.map(normalize).find((m) => m.host !== primary && electable(m) && up.has(m.host));
    if (!heir) {
      return {
        action: "wait",
        reason: `${primary} must step down before its own change, but no other electable member is a healthy secondary`,
      };
    }
    return {
      action: "stepDown",
      on: primary,
      command: { replSetStepDown: STEPDOWN_SECS, secondaryCatchUpPeriodSecs: 15 },
      changes: [`step down ${primary}: a primary cannot make itself unelectable (NodeNotElectable)`],
    };
  }

  function copyMember(doc) {
    const copy = Object.assign({}, doc);
    delete copy.newlyAdded; // set by the server only; a user config must not carry it
    return copy;
  }

  function withMembers(current, members) {
    const config = Object.assign({}, current);
    config.members = members;
    config.version = num(current.version, 0) + 1;
    return config;
  }

  // Members that did not answer, or answered with an error other than
  // NotYetInitialized, as "host: why" strings.
  function unanswered(hosts, observed) {
    return hosts.filter((h) => {
      const r = observed.configs[h];
      return !r || (!ok(r) && num(r.code, -1) !== NOT_YET_INITIALIZED);
    }).map((h) => {
      const r = observed.configs[h];
      return r ? `${h}: ${r.errmsg || r.codeName}` : `no answer yet from ${h}`;
    });
  }

  // replSetInitiate runs on an electable member (checkElectable) and its quorum
  // check needs every proposed member to answer ("not all proposed set members
  // responded affirmatively", NodeNotFound): so it waits for all of them.
  function initiate(desired, hosts, missing) {
    if (missing.length) {
      return { action: "wait", reason: `${missing.join("; ")} (initiating needs every member)` };
    }
    const first = desired.members.map(normalize).find(electable);
    if (!first) {
      return { action: "refuse", reason: "no member can become primary: give one member priority > 0" };
    }
    return {
      action: "initiate",
      on: first.host,
      config: initialConfig(desired),
      changes: desired.members.map((m) => `add ${describe(normalize(m))}`),
    };
  }

  // Once the set exists, members that do not answer are not waited for: a
  // reconfig needs only a majority of the voters (its own quorum check), and a
  // member down must not keep `up` from finishing.
  function plan(desired, observed) {
    const hosts = desired.members.map((m) => m.host);
    const missing = unanswered(hosts, observed);
    const current = currentConfig(observed, hosts);
    if (!current) {
      const everyoneSpoke = missing.length === 0;
      return initiate(desired, hosts, everyoneSpoke ? [] : missing);
    }
    if (current._id !== desired.setName) {
      return {
        action: "refuse",
        reason: `the members belong to replica set '${current._id}', not '${desired.setName}'; ` +
          "a replica set cannot be renamed: restore mongo.replicaSet or start from empty volumes",
      };
    }
    const known = new Set(current.members.map((m) => m.host));
    if (!hosts.some((h) => known.has(h))) {
      return {
        action: "refuse",
        reason: `none of the configured members (${hosts.join(", ")}) is in the current ` +
          `config (${[...known].join(", ")}); this needs a forced reconfig by hand`,
      };
    }
    const primary = primaryOf(observed.status);
    if (!primary) return { action: "wait", reason: "no primary yet (election in progress)" };
    if (ok(observed.primaryConfig) && observed.primaryConfig.commitmentStatus === false) {
      return { action: "wait", reason: "the previous reconfig is not committed yet" };
    }
    const step = nextStep(current, desired, primary, observed.status);
    return step || { action: "none", reason: "membership and member settings match" };
  }

  function planRwConcern(reply) {
    const wc = (reply && reply.defaultWriteConcern) || {};
    const rc = (reply && reply.defaultReadConcern) || {};
    const done = ok(reply) &&
      reply.defaultWriteConcernSource === "global" && wc.w === "majority" &&
      reply.defaultReadConcernSource === "global" && rc.level === "majority";
    if (done) return { action: "none" };
    return {
      action: "set",
      command: bounded({
        setDefaultRWConcern: 1,
        defaultWriteConcern: { w: "majority" },
        defaultReadConcern: { level: "majority" },
      }),
    };
  }

  // A majority write with no majority reachable waits forever unless it is
  // bounded: maxTimeMS limits the operation, wtimeout the wait for
  // acknowledgements (it then fails with a writeConcernError, the write kept).
  function bounded(command) {
    return Object.assign({}, command, {
      writeConcern: { w: "majority", wtimeout: COMMAND_TIMEOUT_MS },
      maxTimeMS: COMMAND_TIMEOUT_MS,
    });
  }

  // createUser / updateUser for the root user, bounded like every write.
  function rootUserCommand(action, user, password) {
    const verb = action === "create" ? "createUser" : "updateUser";
    const command = {};
    command[verb] = user;
    command.pwd = password;
    command.roles = [{ role: "root", db: "admin" }];
    return bounded(command);
  }

  function hasRootRole(user) {
    return (user.roles || []).some((r) => r.role === "root" && r.db === "admin");
  }

  // authOk: whether a login with the configured root password just succeeded.
  function planRootUser(reply, authOk) {
    const users = ok(reply) ? reply.users || [] : [];
    if (!ok(reply)) return { action: "wait", reason: reply && reply.errmsg };
    if (users.length === 0) return { action: "create" };
    if (!authOk) return { action: "update", reason: "password differs from infra:mongoRootPassword" };
    if (!hasRootRole(users[0])) return { action: "update", reason: "missing the root role" };
    return { action: "none" };
  }

  function roleKeys(roles) {
    return (roles || []).map((r) => `${r.role}@${r.db}`).sort();
  }

  function sameRoles(have, want) {
    const a = roleKeys(have);
    const b = roleKeys(want);
    return a.length === b.length && a.every((key, i) => key === b[i]);
  }

  function isManaged(user) {
    return Boolean(user.customData) && user.customData.managedBy === INFRA_USER.managedBy;
  }

  // The application users (spec.users) against a `usersInfo: 1` reply from the
  // users' database. `logins`: name -> whether its current password just logged
  // in (MongoDB stores salted hashes: a login is the only way to compare). A user
  // is created when missing, updated (password, roles, marked as infra's) when
  // anything differs, left alone otherwise; a user infra created (customData)
  // that is no longer wanted is dropped, never the root user nor anyone else's.
  function planUsers(reply, wanted, logins, rootUser) {
    if (!ok(reply)) return [{ action: "wait", reason: (reply && reply.errmsg) || "usersInfo failed" }];
    const existing = {};
    for (const u of reply.users || []) existing[u.user] = u;
    const steps = [];
    for (const want of wanted || []) {
      const have = existing[want.name];
      if (!have) {
        steps.push({ action: "create", user: want.name, roles: want.roles });
        continue;
      }
      const reasons = [];
      if (!logins[want.name]) reasons.push("its password is not the current generation's");
      if (!sameRoles(have.roles, want.roles)) reasons.push("its roles differ");
      if (!isManaged(have)) reasons.push("it was not created by infra: taken over");
      steps.push(reasons.length
        ? { action: "update", user: want.name, roles: want.roles, reason: reasons.join("; ") }
        : { action: "none", user: want.name });
    }
    const names = new Set((wanted || []).map((w) => w.name));
    for (const u of reply.users || []) {
      if (isManaged(u) && !names.has(u.user) && u.user !== rootUser) {
        steps.push({ action: "drop", user: u.user, reason: "no longer in mongo.users" });
      }
    }
    return steps;
  }

  // createUser / updateUser / dropUser for one planUsers step, bounded.
  function userCommand(step, password) {
    if (step.action === "drop") return bounded({ dropUser: step.user });
    const verb = step.action === "create" ? "createUser" : "updateUser";
    const command = {};
    command[verb] = step.user;
    command.pwd = password;
    command.roles = step.roles;
    command.customData = INFRA_USER;
    return bounded(command);
  }

  function dateMs(value) {
    if (value === undefined || value === null) return null;
    if (value instanceof Date) return value.getTime();
    if (typeof value === "object" && "$date" in value) {
      const d = value.$date;
      return typeof d === "object" ? num(d, null) : new Date(d).getTime();
    }
    return new Date(value).getTime();
  }

  // w: "majority" needs acknowledgements from a majority of the voting members,
  // but never more than the voting data-bearing members there are (an arbiter
  // acknowledges nothing): MongoDB's "write majority" (writeMajorityCount).
  function writeMajority(members) {
    const voters = members.filter((m) => num(m.votes, 1) > 0);
    const dataVoters = voters.filter((m) => !m.arbiterOnly).length;
    return Math.min(Math.floor(voters.length / 2) + 1, dataVoters);
  }

  function lagOf(members, primaryMember) {
    const top = primaryMember ? dateMs(primaryMember.optimeDate) : null;
    let maxLag = null;
    for (const m of members) {
      if (m.stateStr !== "SECONDARY" || top === null) continue;
      const lag = Math.max(0, (top - dateMs(m.optimeDate)) / 1000);
      maxLag = maxLag === null ? lag : Math.max(maxLag, lag);
    }
    return maxLag;
  }

  // Ready = a primary and enough healthy data-bearing voters (PRIMARY or
  // SECONDARY) for a majority write. A member that is down, or still in
  // STARTUP2 (initial sync, which can take hours), is reported as degraded but
  // does not make the set unready. `config` (the replica set config, optional)
  // gives the votes; without it every listed member is taken as a voter.
  function health(status, config) {
    if (!ok(status)) return { healthy: false, primary: null, unhealthy: [], maxLagSecs: null };
    const members = status.members || [];
    const primaryMember = members.find((m) => m.stateStr === "PRIMARY");
    const unhealthy = members
      .filter((m) => num(m.health, 0) !== 1 || HEALTHY_STATES.indexOf(m.stateStr) < 0)
      .map((m) => `${m.name} ${m.stateStr}`);
    const configMembers = (config && config.members) ||
      members.map((m) => ({ host: m.name, arbiterOnly: m.stateStr === "ARBITER" }));
    const votes = new Map(configMembers.map((m) => [m.host, num(m.votes, 1)]));
    const ackers = members.filter((m) => num(m.health, 0) === 1 && votes.get(m.name) > 0 &&
      (m.stateStr === "PRIMARY" || m.stateStr === "SECONDARY")).length;
    const needed = writeMajority(configMembers);
    return {
      healthy: Boolean(primaryMember) && ackers >= needed,
      primary: primaryMember ? primaryMember.name : null,
      unhealthy: unhealthy,
      writeMajority: { needed: needed, available: ackers },
      maxLagSecs: lagOf(members, primaryMember),
    };
  }

  const api = {
    plan, planRwConcern, planRootUser, rootUserCommand, planUsers, userCommand, health, primaryOf,
    initialConfig, normalize, electable, COMMAND_TIMEOUT_MS,
  };
  root.RsPlan = api;
  if (typeof module === "object" && module !== null && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
