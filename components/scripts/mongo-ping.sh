#!/bin/bash
# Docker healthcheck of a mongod member: `bash mongo-ping.sh PORT`.
#
# Sends MongoDB's `ping` command ({ping: 1, $db: "admin"}) as one OP_MSG over
# bash's /dev/tcp and succeeds when the reply holds `ok: 1.0`. `ping` needs no
# authentication and answers in every replica set state. This replaces a
# `mongosh --eval` probe: mongosh is a Node.js program started every 5 s
# inside the member's memory limit; bash, head and od need a few MB.
#
# Wire format: https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/
# (header: messageLength, requestID, responseTo, opCode 2013 = OP_MSG; then
# flagBits 0, one kind-0 section holding the command document as BSON).
set -u
port="${1:?usage: mongo-ping.sh PORT}"
exec 3<>"/dev/tcp/127.0.0.1/${port}" || exit 1
# 51 bytes: 16 header + 4 flags + 1 section kind + 30 BSON ({ping: int32 1, $db: "admin"})
printf '\x33\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xdd\x07\x00\x00''\x00\x00\x00\x00\x00''\x1e\x00\x00\x00\x10ping\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00' >&3
# The reply's first 4 bytes are its length (little-endian int32); read exactly the rest.
size=$(head -c 4 <&3 | od -An -tu4 | tr -d ' \n')
[ -n "$size" ] && [ "$size" -gt 4 ] && [ "$size" -lt 1048576 ] || exit 1
# BSON element `ok` as double 1.0: type 0x01, "ok\0", 1.0 little-endian.
head -c "$((size - 4))" <&3 | od -An -tx1 -v | tr -d ' \n' | grep -q '016f6b00000000000000f03f'
