package mongostore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/multitab/multitab/internal/shard"
	"github.com/multitab/multitab/internal/testsvc"
)

func newShard(t *testing.T, title string) *shard.Shard {
	t.Helper()
	s, _, err := shard.New(shard.NewParams{Title: title, Template: "vanilla"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRepository(t *testing.T) {
	ctx := context.Background()
	repo := testsvc.Store(t, testsvc.DevStore(t))

	t.Run("create and find", func(t *testing.T) {
		s := newShard(t, "Hello 😀")
		if err := repo.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := repo.FindByID(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != s.Title || got.Template != "vanilla" || got.Visibility != shard.Public || len(got.Files) != len(s.Files) {
			t.Fatalf("got %+v, want %+v", got, s)
		}
		for i, f := range got.Files {
			if f.ID != s.Files[i].ID || f.Name != s.Files[i].Name || f.Text != s.Files[i].Text || f.Version != 0 {
				t.Fatalf("file %d: got %+v, want %+v", i, f, s.Files[i])
			}
		}
		if err := repo.Create(ctx, s); !errors.Is(err, shard.ErrExists) {
			t.Fatalf("second create: got %v, want ErrExists", err)
		}
	})

	t.Run("not found", func(t *testing.T) {
		if _, err := repo.FindByID(ctx, "nosuchshard"); !errors.Is(err, shard.ErrNotFound) {
			t.Fatalf("got %v, want ErrNotFound", err)
		}
		if err := repo.Delete(ctx, "nosuchshard"); !errors.Is(err, shard.ErrNotFound) {
			t.Fatalf("delete: got %v, want ErrNotFound", err)
		}
		err := repo.Save(ctx, &shard.Shard{ID: "nosuchshard", Rev: 1})
		if !errors.Is(err, shard.ErrNotFound) {
			t.Fatalf("save: got %v, want ErrNotFound", err)
		}
	})

	t.Run("save and version fence", func(t *testing.T) {
		s := newShard(t, "fenced")
		if err := repo.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		f := s.Files[0]
		newer := *s
		newer.Rev, newer.LastSyncAt = 5, time.Now().UTC().Truncate(time.Millisecond)
		f.Text, f.Version = "newer text", 7
		newer.Files = []shard.File{f}
		if err := repo.Save(ctx, &newer); err != nil {
			t.Fatal(err)
		}
		older := newer
		older.Rev = 3
		old := f
		old.Text, old.Version = "older text", 4
		older.Files = []shard.File{old}
		if err := repo.Save(ctx, &older); !errors.Is(err, shard.ErrStale) {
			t.Fatalf("older save: got %v, want ErrStale", err)
		}
		got, err := repo.FindByID(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Files[0].Text != "newer text" || got.Files[0].Version != 7 || got.Rev != 5 {
			t.Fatalf("after stale save: %+v (rev %d), want the newer text at version 7, rev 5", got.Files[0], got.Rev)
		}
		if !got.LastSyncAt.Equal(newer.LastSyncAt) {
			t.Fatalf("lastSyncAt %v, want %v", got.LastSyncAt, newer.LastSyncAt)
		}

		// A new file and a deletion in one save.
		next := newer
		next.Rev = 6
		del := got.Files[1]
		del.Deleted = true
		next.Files = []shard.File{{ID: "newfile", Name: "src/new.js", Text: "x", Seq: 9}, del}
		if err := repo.Save(ctx, &next); err != nil {
			t.Fatal(err)
		}
		got, err = repo.FindByID(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		names := []string{}
		for _, f := range got.Files {
			names = append(names, f.Name)
		}
		if len(got.Files) != len(s.Files) || got.Files[len(got.Files)-1].Name != "src/new.js" {
			t.Fatalf("files after create+delete: %v", names)
		}
		for _, f := range got.Files {
			if f.ID == del.ID {
				t.Fatalf("deleted file %q still listed", del.Name)
			}
		}
	})

	t.Run("list and delete", func(t *testing.T) {
		a, b := newShard(t, "Alpha project"), newShard(t, "beta PROJECT")
		b.Visibility = shard.Private
		for _, s := range []*shard.Shard{a, b} {
			if err := repo.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		got, total, err := repo.List(ctx, shard.ListQuery{Search: "project", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if total != 2 || len(got) != 2 {
			t.Fatalf("search: total %d, %d rows; want 2", total, len(got))
		}
		got, total, err = repo.List(ctx, shard.ListQuery{Search: "project", Visibility: shard.Public})
		if err != nil || total != 1 || got[0].ID != a.ID || got[0].FileCount != len(a.Files) {
			t.Fatalf("public search: %v %d %+v", err, total, got)
		}
		if _, total, _ = repo.List(ctx, shard.ListQuery{Search: "(.*"}); total != 0 {
			t.Fatalf("regex characters are matched literally: got %d", total)
		}
		if err := repo.Delete(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := repo.FindByID(ctx, a.ID); !errors.Is(err, shard.ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
	})
}
