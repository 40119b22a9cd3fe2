// Package room keeps the live state of shards in Redis while people edit
// them: metadata, files, per-file update logs and versions, and members.
// Every key of one shard carries the hash tag {shard:<id>} so that the
// shard's keys share one Redis Cluster slot and its Lua scripts stay
// single-slot. Writes that must be atomic are Lua scripts (scripts.go).
package room

// keys names every key of one shard.
type keys struct{ id string }

func keysOf(id string) keys { return keys{id: id} }

// prefix is what every key of the shard starts with; scripts that address
// per-file keys build them from it.
func (k keys) prefix() string         { return "{shard:" + k.id + "}:" }
func (k keys) room() string           { return k.prefix() + "room" }        // hash: metadata, rev, frev, seq, empty, lastsync
func (k keys) files() string          { return k.prefix() + "files" }       // hash: file id → {"id","name","seq"}
func (k keys) names() string          { return k.prefix() + "names" }       // hash: file name → file id
func (k keys) members() string        { return k.prefix() + "members" }     // hash: member id → Member JSON
func (k keys) gone() string           { return k.prefix() + "gone" }        // hash: deleted file id → {"id","name","seq","version"}, until flushed
func (k keys) flushLock() string      { return k.prefix() + "flushlock" }   // string: token of the flush writing the shard
func (k keys) channel() string        { return k.prefix() + "ch" }          // pub/sub channel of the shard
func (k keys) file(fid string) string { return k.prefix() + "file:" + fid } // hash: v, len, snap, snapv, logv, fv, nrev
func (k keys) log(fid string) string  { return k.prefix() + "log:" + fid }  // list: update JSON, entry i is version logv+i → logv+i+1

// Keys outside any shard.
const (
	liveRoomsKey = "mt:rooms" // set: ids of shards with a room in Redis
	nodesKey     = "mt:nodes" // set: ids of nodes that have announced themselves
)

func nodeKey(node string) string      { return "mt:node:" + node }            // string with a TTL: the node's heartbeat
func nodeRoomsKey(node string) string { return "mt:node:" + node + ":rooms" } // set: shards with members on the node

// Channel returns the pub/sub channel of a shard.
func Channel(id string) string { return keysOf(id).channel() }

// ShardOfChannel returns the shard id of a channel made by Channel.
func ShardOfChannel(ch string) (string, bool) {
	const pre, suf = "{shard:", "}:ch"
	if len(ch) <= len(pre)+len(suf) || ch[:len(pre)] != pre || ch[len(ch)-len(suf):] != suf {
		return "", false
	}
	return ch[len(pre) : len(ch)-len(suf)], true
}
