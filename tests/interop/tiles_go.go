// Reads a Causeway log through its C2SP tiles with Go's
// golang.org/x/mod/sumdb/tlog: TileHashReader checks every tile it reads
// against the signed tree hash, TreeHash recomputes the root, and
// ProveRecord/CheckRecord build and check inclusion proofs from tiles.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run tiles_go.go <tiles URL> <ed25519 vkey> <index>...
//
// sumdb tile paths carry the tile height ("tile/8/L/N"); C2SP tlog-tiles
// drops it ("tile/L/N"), otherwise they are the same.
package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type httpTiles struct{ prefix string }

func (h httpTiles) Height() int { return 8 }

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		path := strings.Replace(t.Path(), "tile/8/", "tile/", 1)
		resp, err := http.Get(h.prefix + "/" + path)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("%s: %s", path, resp.Status)
		}
		out[i] = body
	}
	return out, nil
}

func (h httpTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	prefix, vkey := os.Args[1], os.Args[2]
	resp, err := http.Get(prefix + "/checkpoint")
	if err != nil {
		fail("checkpoint: %v", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fail("vkey: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail("note.Open: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	size, _ := strconv.ParseInt(lines[1], 10, 64)
	rootBytes, _ := base64.StdEncoding.DecodeString(lines[2])
	var root tlog.Hash
	copy(root[:], rootBytes)
	tree := tlog.Tree{N: size, Hash: root}
	thr := tlog.TileHashReader(tree, httpTiles{prefix})
	got, err := tlog.TreeHash(size, thr)
	if err != nil {
		fail("TreeHash: %v", err)
	}
	if got != root {
		fail("TreeHash %x != checkpoint root %x", got, root)
	}
	checks := 1
	for _, a := range os.Args[3:] {
		i, _ := strconv.ParseInt(a, 10, 64)
		p, err := tlog.ProveRecord(size, i, thr)
		if err != nil {
			fail("ProveRecord %d: %v", i, err)
		}
		leaf, err := thr.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
		if err != nil {
			fail("leaf %d: %v", i, err)
		}
		if err := tlog.CheckRecord(p, size, root, i, leaf[0]); err != nil {
			fail("CheckRecord %d: %v", i, err)
		}
		checks++
	}
	fmt.Printf("ok %d %d\n", size, checks)
}
