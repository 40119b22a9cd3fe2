// Remote cursors and selections, labelled with the member's name and colour.
import { StateEffect, StateField, RangeSet } from '@codemirror/state';
import { Decoration, EditorView, WidgetType } from '@codemirror/view';

export const setRemoteCursors = StateEffect.define();

class CaretWidget extends WidgetType {
  constructor(name, color) { super(); this.name = name; this.color = color; }
  eq(other) { return other.name === this.name && other.color === this.color; }
  toDOM() {
    const caret = document.createElement('span');
    caret.className = 'cm-remote-caret';
    caret.style.borderColor = this.color;
    caret.dataset.testid = 'remote-cursor';
    const label = document.createElement('span');
    label.className = 'label';
    label.style.background = this.color;
    label.textContent = this.name;
    caret.appendChild(label);
    return caret;
  }
  ignoreEvent() { return true; }
}

// cursors: [{name, color, ranges: [{anchor, head}]}]
function build(cursors, docLength) {
  const decos = [];
  for (const c of cursors) {
    for (const r of c.ranges) {
      const anchor = Math.min(r.anchor, docLength), head = Math.min(r.head, docLength);
      const from = Math.min(anchor, head), to = Math.max(anchor, head);
      if (from < to) {
        decos.push(Decoration.mark({ attributes: { style: `background-color: ${c.color}33` } }).range(from, to));
      }
      decos.push(Decoration.widget({ widget: new CaretWidget(c.name, c.color), side: 1 }).range(head));
    }
  }
  return RangeSet.of(decos, true);
}

export const remoteCursors = StateField.define({
  create() { return Decoration.none; },
  update(decos, tr) {
    decos = decos.map(tr.changes);
    for (const e of tr.effects) if (e.is(setRemoteCursors)) decos = build(e.value, tr.state.doc.length);
    return decos;
  },
  provide: (f) => EditorView.decorations.from(f),
});
