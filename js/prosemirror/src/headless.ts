// HeadlessEditor: an EditorHost without a view, that a NodesyncBinding drives in Node and in the
// tests.

import type { EditorState, Plugin, Transaction } from "prosemirror-state";
import type { EditorHost, NodesyncBinding } from "./binding.js";

/**
 * An editor without a view (Node, tests): holds the state, applies transactions and runs the
 * binding's update as the plugin's view would.
 */
export class HeadlessEditor implements EditorHost {
  state: EditorState;
  constructor(
    readonly binding: NodesyncBinding,
    plugins: Plugin[] = [],
  ) {
    this.state = binding.createState(plugins);
    binding.attach(this);
  }
  dispatch(tr: Transaction): void {
    const prev = this.state;
    this.state = this.state.apply(tr);
    this.binding.update(prev, this.state);
  }
}
