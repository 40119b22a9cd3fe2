// Package mongostore implements shard.Repository on MongoDB through the
// official driver. The same code runs against real MongoDB in production
// and against the embedded MongoDB-wire store (devstore.go) locally and in
// tests, so it keeps to what both support (no transactions, no $lookup).
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/multitab/multitab/internal/shard"
)

// Store is a shard.Repository on two collections: shards (metadata) and
// files (one document per file, so a shard is not bound by the document
// size limit and each file is written and fenced on its own).
type Store struct {
	client *mongo.Client
	shards *mongo.Collection
	files  *mongo.Collection
}

var _ shard.Repository = (*Store)(nil)

// Open connects to uri, uses database db and makes sure the indexes exist.
func Open(ctx context.Context, uri, db string) (*Store, error) {
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		return nil, fmt.Errorf("mongostore: connect: %w", err)
	}
	s := &Store{client: client, shards: client.Database(db).Collection("shards"), files: client.Database(db).Collection("files")}
	// Several nodes starting at once race to create the database; the
	// embedded store drops the losers' connections. Try again a few times.
	for attempt := 1; ; attempt++ {
		err = s.ensureIndexes(ctx)
		if err == nil {
			return s, nil
		}
		if attempt == 5 || ctx.Err() != nil {
			_ = client.Disconnect(context.Background())
			return nil, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

func (s *Store) ensureIndexes(ctx context.Context) error {
	for _, ix := range []struct {
		coll *mongo.Collection
		name string
		keys bson.D
	}{
		{s.shards, "createdAt_-1", bson.D{{Key: "createdAt", Value: -1}}},
		{s.shards, "visibility_1_createdAt_-1", bson.D{{Key: "visibility", Value: 1}, {Key: "createdAt", Value: -1}}},
		{s.files, "shard_1_seq_1", bson.D{{Key: "shard", Value: 1}, {Key: "seq", Value: 1}}},
	} {
		// One at a time, and only the missing ones: the embedded store
		// fails on a batch that contains an index that exists.
		specs, err := ix.coll.Indexes().ListSpecifications(ctx)
		if err != nil {
			return fmt.Errorf("mongostore: list indexes of %s: %w", ix.coll.Name(), err)
		}
		if slices.ContainsFunc(specs, func(sp mongo.IndexSpecification) bool { return sp.Name == ix.name }) {
			continue
		}
		if _, err := ix.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: ix.keys, Options: options.Index().SetName(ix.name)}); err != nil {
			return fmt.Errorf("mongostore: create index %s on %s: %w", ix.name, ix.coll.Name(), err)
		}
	}
	return nil
}

// Close disconnects.
func (s *Store) Close(ctx context.Context) error { return s.client.Disconnect(ctx) }

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return fmt.Errorf("mongostore: ping: %w", err)
	}
	return nil
}

type shardDoc struct {
	ID            string            `bson:"_id"`
	Title         string            `bson:"title"`
	Template      string            `bson:"template"`
	Visibility    string            `bson:"visibility"`
	Dependencies  map[string]string `bson:"dependencies,omitempty"`
	EditTokenHash string            `bson:"editTokenHash,omitempty"`
	ViewTokenHash string            `bson:"viewTokenHash,omitempty"`
	CreatedAt     time.Time         `bson:"createdAt"`
	UpdatedAt     time.Time         `bson:"updatedAt"`
	LastSyncAt    time.Time         `bson:"lastSyncAt"`
	Rev           int64             `bson:"rev"`
	FileCount     int               `bson:"fileCount"`
}

type fileDoc struct {
	ID      string `bson:"_id"`
	Shard   string `bson:"shard"`
	FileID  string `bson:"id"`
	Name    string `bson:"name"`
	Text    string `bson:"text"`
	Version int64  `bson:"version"`
	Rev     int64  `bson:"rev"`
	Seq     int64  `bson:"seq"`
	Deleted bool   `bson:"deleted"`
}

func fileKey(shardID, fileID string) string { return shardID + "/" + fileID }

func toFileDoc(shardID string, rev int64, f shard.File) fileDoc {
	return fileDoc{ID: fileKey(shardID, f.ID), Shard: shardID, FileID: f.ID, Name: f.Name, Text: f.Text,
		Version: f.Version, Rev: rev, Seq: f.Seq, Deleted: f.Deleted}
}

func liveCount(files []shard.File) int {
	n := 0
	for _, f := range files {
		if !f.Deleted {
			n++
		}
	}
	return n
}

// Create inserts the shard and its files.
func (s *Store) Create(ctx context.Context, sh *shard.Shard) error {
	doc := shardDoc{ID: sh.ID, Title: sh.Title, Template: sh.Template, Visibility: string(sh.Visibility),
		Dependencies: sh.Dependencies, EditTokenHash: sh.EditTokenHash, ViewTokenHash: sh.ViewTokenHash,
		CreatedAt: sh.CreatedAt.UTC(), UpdatedAt: sh.UpdatedAt.UTC(), LastSyncAt: sh.LastSyncAt.UTC(),
		Rev: sh.Rev, FileCount: liveCount(sh.Files)}
	// Files first: a shard document is only visible once its files are.
	if len(sh.Files) > 0 {
		docs := make([]any, len(sh.Files))
		for i, f := range sh.Files {
			docs[i] = toFileDoc(sh.ID, sh.Rev, f)
		}
		if _, err := s.files.InsertMany(ctx, docs); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				return fmt.Errorf("mongostore: create shard %q files: %w", sh.ID, shard.ErrExists)
			}
			return fmt.Errorf("mongostore: create shard %q files: %w", sh.ID, err)
		}
	}
	if _, err := s.shards.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongostore: create shard %q: %w", sh.ID, shard.ErrExists)
		}
		return fmt.Errorf("mongostore: create shard %q: %w", sh.ID, err)
	}
	return nil
}

// FindByID returns the shard and its live files in creation order.
func (s *Store) FindByID(ctx context.Context, id string) (*shard.Shard, error) {
	var doc shardDoc
	if err := s.shards.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, fmt.Errorf("mongostore: find shard %q: %w", id, shard.ErrNotFound)
		}
		return nil, fmt.Errorf("mongostore: find shard %q: %w", id, err)
	}
	cur, err := s.files.Find(ctx, bson.D{{Key: "shard", Value: id}, {Key: "deleted", Value: false}},
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongostore: find files of %q: %w", id, err)
	}
	var files []fileDoc
	if err := cur.All(ctx, &files); err != nil {
		return nil, fmt.Errorf("mongostore: read files of %q: %w", id, err)
	}
	sh := &shard.Shard{ID: doc.ID, Title: doc.Title, Template: doc.Template, Visibility: shard.Visibility(doc.Visibility),
		Dependencies: doc.Dependencies, EditTokenHash: doc.EditTokenHash, ViewTokenHash: doc.ViewTokenHash,
		CreatedAt: doc.CreatedAt, UpdatedAt: doc.UpdatedAt, LastSyncAt: doc.LastSyncAt, Rev: doc.Rev, FileCount: len(files)}
	for _, f := range files {
		sh.Files = append(sh.Files, shard.File{ID: f.FileID, Name: f.Name, Text: f.Text, Version: f.Version, Seq: f.Seq})
	}
	return sh, nil
}

// Save writes metadata and s.Files. The shard document goes first, fenced
// by rev, so that the stored rev is never behind a stored file's rev (a
// room reloaded after a crash then counts on from above every file). Each
// file is fenced by (version, rev): it is written only where the stored
// version is not newer and the stored rev is older. MongoDB answers a fenced
// upsert with a duplicate key, which tells a stale write from a new file.
func (s *Store) Save(ctx context.Context, sh *shard.Shard) error {
	revFence := bson.D{{Key: "_id", Value: sh.ID}, {Key: "rev", Value: bson.D{{Key: "$lte", Value: sh.Rev}}}}
	res, err := s.shards.UpdateOne(ctx, revFence, bson.D{{Key: "$set", Value: bson.D{
		{Key: "title", Value: sh.Title}, {Key: "visibility", Value: string(sh.Visibility)},
		{Key: "dependencies", Value: sh.Dependencies}, {Key: "updatedAt", Value: sh.UpdatedAt.UTC()},
		{Key: "lastSyncAt", Value: sh.LastSyncAt.UTC()}, {Key: "rev", Value: sh.Rev}, {Key: "fileCount", Value: sh.FileCount}}}})
	if err != nil {
		return fmt.Errorf("mongostore: save shard %q: %w", sh.ID, err)
	}
	if res.MatchedCount == 0 {
		n, err := s.shards.CountDocuments(ctx, bson.D{{Key: "_id", Value: sh.ID}})
		if err != nil {
			return fmt.Errorf("mongostore: save shard %q: %w", sh.ID, err)
		}
		if n == 0 {
			return fmt.Errorf("mongostore: save shard %q: %w", sh.ID, shard.ErrNotFound)
		}
		return fmt.Errorf("mongostore: save shard %q at rev %d: %w", sh.ID, sh.Rev, shard.ErrStale)
	}
	stale := false
	for _, f := range sh.Files {
		d := toFileDoc(sh.ID, sh.Rev, f)
		filter := bson.D{{Key: "_id", Value: d.ID}, {Key: "version", Value: bson.D{{Key: "$lte", Value: d.Version}}},
			{Key: "rev", Value: bson.D{{Key: "$lt", Value: d.Rev}}}}
		update := bson.D{{Key: "$set", Value: bson.D{{Key: "shard", Value: d.Shard}, {Key: "id", Value: d.FileID},
			{Key: "name", Value: d.Name}, {Key: "text", Value: d.Text}, {Key: "version", Value: d.Version},
			{Key: "rev", Value: d.Rev}, {Key: "seq", Value: d.Seq}, {Key: "deleted", Value: d.Deleted}}}}
		_, err := s.files.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
		switch {
		case mongo.IsDuplicateKeyError(err):
			stale = true
		case err != nil:
			return fmt.Errorf("mongostore: save file %q of %q: %w", f.ID, sh.ID, err)
		}
	}
	if stale {
		return fmt.Errorf("mongostore: save files of %q at rev %d: %w", sh.ID, sh.Rev, shard.ErrStale)
	}
	return nil
}

// List returns summaries newest first.
func (s *Store) List(ctx context.Context, q shard.ListQuery) ([]shard.Summary, int, error) {
	filter := bson.D{}
	if q.Visibility != "" {
		filter = append(filter, bson.E{Key: "visibility", Value: string(q.Visibility)})
	}
	if q.Search != "" {
		filter = append(filter, bson.E{Key: "title", Value: bson.D{{Key: "$regex", Value: regexp.QuoteMeta(q.Search)}, {Key: "$options", Value: "i"}}})
	}
	total, err := s.shards.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, fmt.Errorf("mongostore: count shards: %w", err)
	}
	limit := q.Limit
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	cur, err := s.shards.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: 1}}).
		SetSkip(int64(max(q.Offset, 0))).SetLimit(int64(limit)))
	if err != nil {
		return nil, 0, fmt.Errorf("mongostore: list shards: %w", err)
	}
	var docs []shardDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, 0, fmt.Errorf("mongostore: read shard list: %w", err)
	}
	out := make([]shard.Summary, len(docs))
	for i, d := range docs {
		out[i] = shard.Summary{ID: d.ID, Title: d.Title, Template: d.Template, Visibility: shard.Visibility(d.Visibility),
			CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, LastSyncAt: d.LastSyncAt, FileCount: d.FileCount}
	}
	return out, int(total), nil
}

// Delete removes the shard and its files.
func (s *Store) Delete(ctx context.Context, id string) error {
	res, err := s.shards.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("mongostore: delete shard %q: %w", id, err)
	}
	if _, err := s.files.DeleteMany(ctx, bson.D{{Key: "shard", Value: id}}); err != nil {
		return fmt.Errorf("mongostore: delete files of %q: %w", id, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("mongostore: delete shard %q: %w", id, shard.ErrNotFound)
	}
	return nil
}
