// Decision logic of the MongoDB replica set init container, kept pure: documents
// in, one decision out. No I/O, no shell globals, so that it runs unchanged in
// mongosh (loaded by mongo-rs-init.js) and in Node.js (the unit tests).
//
//   plan(desired, observed)      -> initiate | reconfig | stepDown | wait | refuse | none
//   planRwConcern(reply)         -> set | none  (getDefaultRWConcern reply)
//   planRootUser(reply, authOk)  -> create | update | none  (usersInfo reply)
//   health(status)               -> primary, unhealthy members, replication lag
//
// `desired` is the spec the component writes into RS_SPEC:
//   {setName, rootUser, authSource,
//    members: [{host, priority, votes, hidden, secondaryDelaySecs, arbiterOnly}]}
// `observed` holds raw command replies, as MongoDB sends them:
//   {configs: {host: replSetGetConfig reply}, status: replSetGetStatus reply | null,
//    primaryConfig: replSetGetConfig {commitmentStatus: true} reply from the primary | null}
"use strict";

(function (root) {
  const NOT_YET_INITIALIZED = 94;
  const MANAGED = ["priority", "votes", "hidden", "secondaryDelaySecs"];
  const HEALTHY_STATES = ["PRIMARY", "SECONDARY", "ARBITER"];

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
  function nextStep(current, desired, primary) {
    const want = new Map(desired.members.map((m) => [m.host, normalize(m)]));
    const have = current.members.map((m) => ({ doc: m, norm: normalize(m) }));
    const byHost = new Map(have.map((h) => [h.norm.host, h]));
    // arbiterOnly cannot change in place: such a member is removed, then re-added.
    const leaving = have.filter((h) => !want.has(h.norm.host) ||
      want.get(h.norm.host).arbiterOnly !== h.norm.arbiterOnly);
    const leavingHosts = new Set(leaving.map((h) => h.norm.host));
    const joining = desired.members.map(normalize).filter((m) => !byHost.has(m.host));

    const primaryLeaving = leaving.find((h) => h.norm.host === primary);
    if (primaryLeaving) {
      if (primaryLeaving.norm.priority > 0) {
        return demote(current, primaryLeaving.norm.host);
      }
      return { action: "stepDown", on: primary, changes: [`step down ${primary} before removing it`] };
    }

    const changes = [];
    let votingChangeUsed = false;
    const members = [];
    for (const h of have) {
      const voter = h.norm.votes > 0;
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
    if (changes.length === 0) return null;
    return { action: "reconfig", on: primary, config: withMembers(current, members), changes: changes };
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

  // A primary that is about to be removed first loses its priority: MongoDB then
  // has it step down, and the next step removes it as a secondary.
  function demote(current, host) {
    const members = current.members.map((m) => {
      const copy = copyMember(m);
      if (m.host === host) copy.priority = 0;
      return copy;
    });
    return {
      action: "reconfig",
      on: host,
      config: withMembers(current, members),
      changes: [`${host}: priority -> 0 so that it steps down before its removal`],
    };
  }

  function plan(desired, observed) {
    const hosts = desired.members.map((m) => m.host);
    const silent = hosts.filter((h) => !observed.configs[h]);
    if (silent.length) {
      return { action: "wait", reason: `no answer yet from ${silent.join(", ")}` };
    }
    const failing = hosts.filter((h) => {
      const r = observed.configs[h];
      return !ok(r) && num(r.code, -1) !== NOT_YET_INITIALIZED;
    });
    if (failing.length) {
      const why = failing.map((h) => `${h}: ${observed.configs[h].errmsg || observed.configs[h].codeName}`);
      return { action: "wait", reason: why.join("; ") };
    }
    const current = currentConfig(observed, hosts);
    if (!current) {
      return {
        action: "initiate",
        on: hosts[0],
        config: initialConfig(desired),
        changes: desired.members.map((m) => `add ${describe(normalize(m))}`),
      };
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
    const step = nextStep(current, desired, primary);
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
      command: {
        setDefaultRWConcern: 1,
        defaultWriteConcern: { w: "majority" },
        defaultReadConcern: { level: "majority" },
        writeConcern: { w: "majority" },
      },
    };
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

  function dateMs(value) {
    if (value === undefined || value === null) return null;
    if (value instanceof Date) return value.getTime();
    if (typeof value === "object" && "$date" in value) {
      const d = value.$date;
      return typeof d === "object" ? num(d, null) : new Date(d).getTime();
    }
    return new Date(value).getTime();
  }

  function health(status) {
    if (!ok(status)) return { healthy: false, primary: null, unhealthy: [], maxLagSecs: null };
    const members = status.members || [];
    const primaryMember = members.find((m) => m.stateStr === "PRIMARY");
    const unhealthy = members
      .filter((m) => num(m.health, 0) !== 1 || HEALTHY_STATES.indexOf(m.stateStr) < 0)
      .map((m) => `${m.name} ${m.stateStr}`);
    let maxLag = null;
    if (primaryMember) {
      const top = dateMs(primaryMember.optimeDate);
      for (const m of members) {
        if (m.stateStr !== "SECONDARY" || top === null) continue;
        const lag = Math.max(0, (top - dateMs(m.optimeDate)) / 1000);
        maxLag = maxLag === null ? lag : Math.max(maxLag, lag);
      }
    }
    return {
      healthy: Boolean(primaryMember) && unhealthy.length === 0,
      primary: primaryMember ? primaryMember.name : null,
      unhealthy: unhealthy,
      maxLagSecs: maxLag,
    };
  }

  const api = { plan, planRwConcern, planRootUser, health, primaryOf, initialConfig, normalize };
  root.RsPlan = api;
  if (typeof module === "object" && module !== null && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
