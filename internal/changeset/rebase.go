package changeset

import "fmt"

// Update is one @codemirror/collab update: the changes of one transaction
// and the id of the editor that made it.
type Update struct {
	ClientID string
	Changes  *ChangeSet
}

// Rebase is rebaseUpdates of @codemirror/collab: it rewrites updates, made
// against the document before over, to apply after over. Updates of the same
// client found at the start of over were accepted already (the client is
// re-sending them) and are dropped.
func Rebase(updates, over []Update) ([]Update, error) {
	if len(over) == 0 || len(updates) == 0 {
		return updates, nil
	}
	var changes *ChangeSet
	skip := 0
	for _, u := range over {
		if skip < len(updates) && updates[skip].ClientID == u.ClientID {
			if changes != nil {
				var err error
				if changes, err = changes.MapDesc(updates[skip].Changes, true); err != nil {
					return nil, fmt.Errorf("rebase: %w", err)
				}
			}
			skip++
			continue
		}
		if changes == nil {
			changes = u.Changes
			continue
		}
		var err error
		if changes, err = changes.ComposeDesc(u.Changes); err != nil {
			return nil, fmt.Errorf("rebase: %w", err)
		}
	}
	updates = updates[skip:]
	if changes == nil {
		return updates, nil
	}
	out := make([]Update, len(updates))
	for i, u := range updates {
		mapped, err := u.Changes.Map(changes, false)
		if err != nil {
			return nil, fmt.Errorf("rebase: %w", err)
		}
		if changes, err = changes.MapDesc(u.Changes, true); err != nil {
			return nil, fmt.Errorf("rebase: %w", err)
		}
		out[i] = Update{ClientID: u.ClientID, Changes: mapped}
	}
	return out, nil
}

// RebaseEach is Rebase over one accepted update at a time. CodeMirror's map
// is not compositional where an insertion meets the edge of a replaced
// range: mapping over two updates in turn and over their composition can
// order the texts differently. Clients apply the updates they receive one
// at a time (receiveUpdates per update), so the server must transform a
// stale push the same way, whatever batches the updates travelled in.
func RebaseEach(updates, over []Update) ([]Update, error) {
	for i := range over {
		var err error
		if updates, err = Rebase(updates, over[i:i+1]); err != nil {
			return nil, err
		}
		if len(updates) == 0 {
			break
		}
	}
	return updates, nil
}
