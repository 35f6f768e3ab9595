// A Causeway producer written from docs/producers.md and the .proto files
// alone, with Go's standard library, protowire (google.golang.org/protobuf)
// and grpc-go: no generated code, no protoc. The messages are encoded field
// by field from the field tables, canonically (docs/producers.md §2).
//
// It signs an authorization (approver key), a credential for an agent
// (issuer key, with a fresh P-256 session key) and an action under that
// credential (session key), submits each with Log/AddEntries after the
// previous one was acknowledged, checks every acknowledgement itself (leaf
// hash = SHA-256(0x00 || entry), and the RFC 6962 inclusion proof of the
// entry up to the acknowledged checkpoint's root), and prints one JSON
// line:
//
//	{"authorization":{"index":0,"leaf_hash":"…"},"credential":{…},"action":{…},"tree_size":3}
//
// Run in GOPATH mode against Debian's golang-google-protobuf-dev and
// golang-google-grpc-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run producer_go.go \
//	  --log 127.0.0.1:7400 --approver approver.pem --issuer issuer.pem
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
)

// payloadType is the Envelope's payload_type (docs/producers.md §1).
const payloadType = "application/vnd.causeway.record.v1+protobuf"

// The approver's identity must be one the policy lists for the approver's
// key; the scope is what the authorization allows and the credential
// narrows to (here: the same).
const (
	approverSubject = "alice@example.com"
	target          = "github.com/acme/payments-service"
	operation       = "git.clone"
)

func main() {
	logAddr := flag.String("log", "127.0.0.1:7400", "the log's gRPC address, host:port")
	approverPEM := flag.String("approver", "", "PKCS#8 PEM key of the approver (a human principal)")
	issuerPEM := flag.String("issuer", "", "PKCS#8 PEM key of the credential issuer")
	flag.Parse()
	if err := run(*logAddr, *approverPEM, *issuerPEM); err != nil {
		fmt.Fprintln(os.Stderr, "producer_go:", err)
		os.Exit(1)
	}
}

// written is what the program prints for one acknowledged record.
type written struct {
	Index    uint64 `json:"index"`
	LeafHash string `json:"leaf_hash"`
}

func run(logAddr, approverPEM, issuerPEM string) error {
	approver, err := loadKey(approverPEM)
	if err != nil {
		return fmt.Errorf("approver key: %w", err)
	}
	issuer, err := loadKey(issuerPEM)
	if err != nil {
		return fmt.Errorf("issuer key: %w", err)
	}
	session, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("session key: %w", err)
	}
	sessionSPKI, err := x509.MarshalPKIXPublicKey(&session.PublicKey)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, logAddr, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		return fmt.Errorf("connect to %s: %w", logAddr, err)
	}
	defer conn.Close()
	log := logClient{conn}

	now := time.Now()
	scope := scopeMsg("standard", []string{target}, []string{operation})

	auth, err := log.submit(ctx, "authorization", approver, record(1, authorization(now, scope)))
	if err != nil {
		return err
	}
	cred, err := log.submit(ctx, "credential", issuer,
		record(3, credential(now, auth.leafHash, scope, sessionSPKI)))
	if err != nil {
		return err
	}
	act, err := log.submit(ctx, "action", session, record(4, action(now, cred.leafHash)))
	if err != nil {
		return err
	}

	out, err := json.Marshal(map[string]interface{}{
		"authorization": auth.written(),
		"credential":    cred.written(),
		"action":        act.written(),
		"tree_size":     act.treeSize,
	})
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// loadKey reads an ECDSA P-256 private key from a PKCS#8 PEM file (what
// `openssl pkcs8 -topk8` and `causeway keygen` write).
func loadKey(path string) (*ecdsa.PrivateKey, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(text)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s: no PKCS#8 \"PRIVATE KEY\" PEM block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: not an ECDSA P-256 key", path)
	}
	return key, nil
}

// ---- Canonical protobuf encoding (docs/producers.md §2) ----

// msg accumulates one message's fields. Callers append in field-number
// order; scalars equal to their default are left out, sub-messages are
// always written, which is the canonical form the log insists on.
type msg []byte

func (m msg) str(num protowire.Number, s string) msg {
	if s == "" {
		return m
	}
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendString(m, s)
}

func (m msg) bytes(num protowire.Number, b []byte) msg {
	if len(b) == 0 {
		return m
	}
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendBytes(m, b)
}

// strs writes a repeated string: every element, empty ones included
// (repeated fields have no default to omit).
func (m msg) strs(num protowire.Number, list []string) msg {
	for _, s := range list {
		m = protowire.AppendTag(m, num, protowire.BytesType)
		m = protowire.AppendString(m, s)
	}
	return m
}

func (m msg) uint(num protowire.Number, v uint64) msg {
	if v == 0 {
		return m
	}
	m = protowire.AppendTag(m, num, protowire.VarintType)
	return protowire.AppendVarint(m, v)
}

func (m msg) boolean(num protowire.Number, v bool) msg {
	if !v {
		return m
	}
	return m.uint(num, 1)
}

// sub writes a set sub-message, even an empty one.
func (m msg) sub(num protowire.Number, child msg) msg {
	m = protowire.AppendTag(m, num, protowire.BytesType)
	return protowire.AppendBytes(m, child)
}

// timeMsg is causeway.v1.Time {int64 seconds = 1; int32 nanos = 2}.
func timeMsg(t time.Time) msg {
	return msg(nil).
		uint(1, uint64(t.Unix())).
		uint(2, uint64(int64(t.Nanosecond())))
}

// ---- Records (records.proto) ----

func scopeMsg(changeClass string, targets, actions []string) msg {
	return msg(nil).str(1, changeClass).strs(2, targets).strs(3, actions)
}

// authorization: a human approves a plan within a scope, valid from a
// minute ago for an hour, after logging in with MFA two minutes ago.
func authorization(now time.Time, scope msg) msg {
	approver := msg(nil).str(1, approverSubject).str(2, "https://idp.example.com")
	authn := msg(nil).
		str(1, "webauthn").
		boolean(2, true).
		str(3, "phr").
		sub(4, timeMsg(now.Add(-2*time.Minute)))
	plan := msg(nil).
		str(1, "Fix rounding of ledger totals").
		str(2, "Agent clones the repository and reads ledger/rounding.rs").
		str(3, "Unit tests").
		str(4, "Nothing to back out: read only")
	return msg(nil).
		sub(1, approver).
		sub(2, authn).
		sub(3, plan).
		sub(4, scope).
		str(5, "CHG-4821").
		sub(6, timeMsg(now.Add(-time.Minute))).
		sub(7, timeMsg(now.Add(time.Hour))).
		sub(8, timeMsg(now))
}

// credential binds a fresh session key to the authorization for half an
// hour. No preflight, no parent: those optional references stay empty.
func credential(now time.Time, authorization []byte, scope msg, sessionSPKI []byte) msg {
	agent := msg(nil).str(1, "go-producer").str(2, "none").str(3, "1")
	serial := make([]byte, 8)
	// A failing system RNG would already have failed the session key.
	_, _ = rand.Read(serial)
	return msg(nil).
		str(1, "go-"+hex.EncodeToString(serial)).
		sub(2, agent).
		bytes(3, authorization).
		sub(6, scope).
		bytes(7, sessionSPKI).
		sub(8, timeMsg(now)).
		sub(9, timeMsg(now.Add(30*time.Minute))).
		sub(10, timeMsg(now))
}

// action: the agent's first action under the credential.
func action(now time.Time, credential []byte) msg {
	digest := sha256.Sum256([]byte("git clone " + target))
	return msg(nil).
		bytes(1, credential).
		uint(2, 1).
		str(3, "git").
		str(4, target).
		str(5, "cloned the repository").
		str(6, "sha256:"+hex.EncodeToString(digest[:])).
		str(7, "ok").
		sub(8, timeMsg(now)).
		str(9, operation)
}

// record wraps one kind's message in causeway.v1.Record's oneof.
func record(kind protowire.Number, body msg) msg {
	return msg(nil).sub(kind, body)
}

// ---- Signing (docs/producers.md §1) ----

func pae(payload []byte) []byte {
	head := fmt.Sprintf("DSSEv1 %d %s %d ", len(payloadType), payloadType, len(payload))
	return append([]byte(head), payload...)
}

// keyID is the lowercase hex SHA-256 of the DER SubjectPublicKeyInfo.
func keyID(key *ecdsa.PrivateKey) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(spki)
	return hex.EncodeToString(sum[:]), nil
}

// envelope signs an encoded Record and returns the entry bytes.
func envelope(key *ecdsa.PrivateKey, payload []byte) ([]byte, error) {
	id, err := keyID(key)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(pae(payload))
	// SignASN1 returns the DER SEQUENCE {r, s} the log wants.
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		return nil, err
	}
	signature := msg(nil).str(1, id).bytes(2, sig)
	return msg(nil).str(1, payloadType).bytes(2, payload).sub(3, signature), nil
}

// ---- gRPC without generated code ----

// rawCodec hands already-encoded protobuf bytes to grpc-go and back. Its
// name is "proto" so that the content type is the usual application/grpc+proto.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("rawCodec: cannot send %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot receive into %T", v)
	}
	*p = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

type logClient struct{ conn *grpc.ClientConn }

func (c logClient) call(ctx context.Context, method string, req []byte) ([]byte, error) {
	var resp []byte
	err := c.conn.Invoke(ctx, "/causeway.v1.Log/"+method, req, &resp, grpc.ForceCodec(rawCodec{}))
	return resp, err
}

// ack is one acknowledged entry, checked against its checkpoint.
type ack struct {
	index    uint64
	leafHash []byte
	treeSize uint64
}

func (a ack) written() written {
	return written{Index: a.index, LeafHash: hex.EncodeToString(a.leafHash)}
}

// submit signs one record, sends it alone in an AddEntries request and
// verifies the acknowledgement: the leaf hash is ours and the entry is in
// the tree of the checkpoint the log returned.
func (c logClient) submit(ctx context.Context, what string, key *ecdsa.PrivateKey, rec msg) (ack, error) {
	entry, err := envelope(key, rec)
	if err != nil {
		return ack{}, fmt.Errorf("%s: sign: %w", what, err)
	}
	resp, err := c.call(ctx, "AddEntries", msg(nil).bytes(1, entry))
	if err != nil {
		return ack{}, fmt.Errorf("%s: AddEntries: %w", what, err)
	}
	a, err := c.verifyAck(ctx, entry, resp)
	if err != nil {
		return ack{}, fmt.Errorf("%s: %w", what, err)
	}
	return a, nil
}

func (c logClient) verifyAck(ctx context.Context, entry, resp []byte) (ack, error) {
	// AddEntriesResponse {repeated AddedEntry entries = 1; Checkpoint checkpoint = 2}
	top, err := decode(resp)
	if err != nil {
		return ack{}, fmt.Errorf("AddEntriesResponse: %w", err)
	}
	if len(top[1]) != 1 || len(top[2]) != 1 {
		return ack{}, fmt.Errorf("AddEntriesResponse: want one entry and one checkpoint, got %d and %d", len(top[1]), len(top[2]))
	}
	// AddedEntry {uint64 index = 1; bytes leaf_hash = 2; bool duplicate = 3}
	added, err := decode(top[1][0].bytes)
	if err != nil {
		return ack{}, fmt.Errorf("AddedEntry: %w", err)
	}
	a := ack{index: added.varint(1), leafHash: added.bytes(2)}
	if added.varint(3) != 0 {
		return ack{}, errors.New("the log calls a fresh record a duplicate")
	}
	if want := leafHash(entry); !bytes.Equal(a.leafHash, want) {
		return ack{}, fmt.Errorf("leaf hash %x, want SHA-256(0x00 || entry) = %x", a.leafHash, want)
	}
	// Checkpoint {string note = 1; uint64 tree_size = 2; bytes root_hash = 3}:
	// the note is authoritative, the other two are convenience copies.
	cp, err := decode(top[2][0].bytes)
	if err != nil {
		return ack{}, fmt.Errorf("Checkpoint: %w", err)
	}
	size, root, err := parseCheckpoint(string(cp.bytes(1)))
	if err != nil {
		return ack{}, err
	}
	if cp.varint(2) != size || !bytes.Equal(cp.bytes(3), root) {
		return ack{}, errors.New("the checkpoint's tree_size/root_hash disagree with its note")
	}
	if a.index >= size {
		return ack{}, fmt.Errorf("index %d is not in the acknowledged tree of size %d", a.index, size)
	}
	// GetInclusionProofRequest {oneof leaf {uint64 leaf_index = 1; …};
	// optional uint64 tree_size = 3}: both have explicit presence, so they
	// are written even when 0.
	req := protowire.AppendTag(nil, 1, protowire.VarintType)
	req = protowire.AppendVarint(req, a.index)
	req = protowire.AppendTag(req, 3, protowire.VarintType)
	req = protowire.AppendVarint(req, size)
	resp, err = c.call(ctx, "GetInclusionProof", req)
	if err != nil {
		return ack{}, fmt.Errorf("GetInclusionProof: %w", err)
	}
	// InclusionProof {uint64 leaf_index = 1; uint64 tree_size = 2;
	// bytes leaf_hash = 3; repeated bytes hashes = 4}
	proof, err := decode(resp)
	if err != nil {
		return ack{}, fmt.Errorf("InclusionProof: %w", err)
	}
	if proof.varint(1) != a.index || proof.varint(2) != size || !bytes.Equal(proof.bytes(3), a.leafHash) {
		return ack{}, errors.New("the inclusion proof is for another leaf or tree")
	}
	var path [][]byte
	for _, f := range proof[4] {
		path = append(path, f.bytes)
	}
	if err := verifyInclusion(a.index, size, a.leafHash, path, root); err != nil {
		return ack{}, err
	}
	a.treeSize = size
	return a, nil
}

// parseCheckpoint reads size and root from a C2SP checkpoint note body:
// "<origin>\n<size>\n<base64 root>\n", then optional extension lines, a
// blank line and the signatures. (The log's signatures are not checked
// here: the producer is not given the log's verifier keys.)
func parseCheckpoint(note string) (uint64, []byte, error) {
	body, _, found := strings.Cut(note, "\n\n")
	if !found {
		return 0, nil, errors.New("checkpoint note has no signature block")
	}
	lines := strings.Split(body, "\n")
	if len(lines) < 3 {
		return 0, nil, errors.New("checkpoint note has fewer than three lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("checkpoint size: %w", err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != sha256.Size {
		return 0, nil, fmt.Errorf("checkpoint root %q is not a base64 SHA-256 hash", lines[2])
	}
	return size, root, nil
}

// ---- Decoding answers ----

// field is one decoded field: its varint value or its length-delimited bytes.
type field struct {
	varint uint64
	bytes  []byte
}

// fields maps a field number to its occurrences, in order.
type fields map[protowire.Number][]field

func (f fields) varint(num protowire.Number) uint64 {
	if list := f[num]; len(list) > 0 {
		return list[len(list)-1].varint
	}
	return 0
}

func (f fields) bytes(num protowire.Number) []byte {
	if list := f[num]; len(list) > 0 {
		return list[len(list)-1].bytes
	}
	return nil
}

// decode splits a message into its varint and length-delimited fields,
// which is all the answers read here use; other wire types are skipped.
func decode(b []byte) (fields, error) {
	out := fields{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		var f field
		switch typ {
		case protowire.VarintType:
			f.varint, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.bytes, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		out[num] = append(out[num], f)
	}
	return out, nil
}

// ---- RFC 6962 Merkle tree hashing and inclusion proofs ----

func leafHash(entry []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0x00})
	h.Write(entry)
	return h.Sum(nil)
}

func nodeHash(left, right []byte) []byte {
	h := sha256.New()
	h.Write([]byte{0x01})
	h.Write(left)
	h.Write(right)
	return h.Sum(nil)
}

// verifyInclusion is the audit path check of RFC 9162 §2.1.3.2 (the same
// tree as RFC 6962 §2.1.1): walk from the leaf up, the index's bits saying
// on which side each sibling sits, until the path reaches the root.
func verifyInclusion(index, size uint64, leaf []byte, path [][]byte, root []byte) error {
	if index >= size {
		return fmt.Errorf("leaf %d is outside a tree of size %d", index, size)
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range path {
		if sn == 0 {
			return errors.New("inclusion proof is longer than the tree is deep")
		}
		if fn&1 == 1 || fn == sn {
			r = nodeHash(p, r)
			// A right-edge node with no right sibling: climb until it is a
			// right child again.
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = nodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return errors.New("inclusion proof is shorter than the tree is deep")
	}
	if !bytes.Equal(r, root) {
		return fmt.Errorf("inclusion proof of leaf %d leads to %x, not the checkpoint root %x", index, r, root)
	}
	return nil
}
