// Independent check of Causeway's output with Go's golang.org/x/mod:
// sumdb/note verifies the checkpoint's Ed25519 signature and sumdb/tlog
// verifies inclusion and consistency proofs. Reads one JSON job on stdin,
// prints "ok <checks>" or exits 1 with the first failure.
//
// Run in GOPATH mode against Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run verify_go.go < job.json
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	LeafHash string   `json:"leaf_hash"`
	Proof    []string `json:"proof"`
}

type consistency struct {
	Old     int64    `json:"old"`
	OldRoot string   `json:"old_root"`
	Proof   []string `json:"proof"`
}

type job struct {
	Vkey        string        `json:"vkey"`
	Note        string        `json:"note"`
	Inclusion   []inclusion   `json:"inclusion"`
	Consistency []consistency `json:"consistency"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func hash(s string) tlog.Hash {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		fail("bad hash %q", s)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h
}

func hashes(ss []string) []tlog.Hash {
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		out[i] = hash(s)
	}
	return out
}

func main() {
	var j job
	if err := json.NewDecoder(os.Stdin).Decode(&j); err != nil {
		fail("decode job: %v", err)
	}
	v, err := note.NewVerifier(j.Vkey)
	if err != nil {
		fail("vkey: %v", err)
	}
	n, err := note.Open([]byte(j.Note), note.VerifierList(v))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("checkpoint too short")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != 32 {
		fail("root: %v", err)
	}
	var root tlog.Hash
	copy(root[:], rootBytes)
	checks := 1
	for _, in := range j.Inclusion {
		if in.Size != size {
			fail("inclusion proof for size %d, checkpoint is %d", in.Size, size)
		}
		if err := tlog.CheckRecord(hashes(in.Proof), size, root, in.Index, hash(in.LeafHash)); err != nil {
			fail("CheckRecord %d/%d: %v", in.Index, size, err)
		}
		checks++
	}
	for _, c := range j.Consistency {
		if err := tlog.CheckTree(hashes(c.Proof), size, root, c.Old, hash(c.OldRoot)); err != nil {
			fail("CheckTree %d->%d: %v", c.Old, size, err)
		}
		checks++
	}
	fmt.Printf("ok %d\n", checks)
}
