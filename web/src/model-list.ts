/**
 * The saved models, as a list in the page: each with its name, architecture, date and how far
 * its training got, and buttons to use, rename and delete it. Renaming edits the name in place
 * (Enter keeps it, Escape drops it).
 */
import type { ModelEntry, ModelList } from './protocol.js';

export interface ModelListActions {
  use(id: string): void;
  rename(id: string, name: string): void;
  remove(id: string, name: string): void;
}

export class ModelListView {
  private list: ModelList = { entries: [], current: null };
  private disabled = false;

  constructor(private readonly root: HTMLElement, private readonly actions: ModelListActions) {
    this.render();
  }

  show(list: ModelList): void {
    this.list = list;
    this.render();
  }

  /** While a job runs, the list can be read but not acted on. */
  setDisabled(disabled: boolean): void {
    this.disabled = disabled;
    for (const b of this.root.querySelectorAll('button')) b.disabled = disabled;
  }

  /** The entry of the model in use, when it is one. */
  current(): ModelEntry | undefined {
    return this.list.entries.find((e) => e.id === this.list.current?.id);
  }

  private render(): void {
    this.root.replaceChildren();
    if (this.list.entries.length === 0) {
      const empty = document.createElement('li');
      empty.className = 'hint';
      empty.textContent = 'none yet: a model you train or load is kept here, in this browser';
      this.root.append(empty);
      return;
    }
    for (const entry of this.list.entries) this.root.append(this.item(entry));
  }

  private item(entry: ModelEntry): HTMLLIElement {
    const li = document.createElement('li');
    li.dataset['testid'] = 'model-entry';
    li.dataset['id'] = entry.id;
    if (entry.id === this.list.current?.id) li.setAttribute('aria-current', 'true');
    const name = span('model-name', entry.name, 'name');
    const details = span('model-details', `${entry.architecture}; ${state(entry)}; ${new Date(entry.created).toLocaleString()}`, 'hint');
    const use = button('model-use', 'Use', `use ${entry.name}`, () => this.actions.use(entry.id));
    const rename = button('model-rename', 'Rename', `rename ${entry.name}`, () => this.editName(li, name, entry));
    const remove = button('model-delete', 'Delete', `delete ${entry.name}`, () => this.actions.remove(entry.id, entry.name));
    use.disabled = !entry.usable && !entry.resumable;
    const actions = document.createElement('span');
    actions.className = 'actions';
    actions.append(use, rename, remove);
    li.append(name, actions, details);
    for (const b of li.querySelectorAll('button')) b.disabled ||= this.disabled;
    return li;
  }

  private editName(li: HTMLLIElement, name: HTMLElement, entry: ModelEntry): void {
    const input = document.createElement('input');
    input.type = 'text';
    input.value = entry.name;
    input.dataset['testid'] = 'model-rename-input';
    input.setAttribute('aria-label', `new name for ${entry.name} (Enter keeps it, Escape cancels)`);
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') this.actions.rename(entry.id, input.value);
      if (e.key === 'Enter' || e.key === 'Escape') {
        e.preventDefault();
        li.replaceChild(name, input);
      }
    });
    li.replaceChild(input, name);
    input.focus();
    input.select();
  }
}

function state(entry: ModelEntry): string {
  if (!entry.trained) return 'loaded from a file';
  const { epochsDone, epochs } = entry.trained;
  const resumable = entry.resumable && epochsDone < epochs ? ', can be resumed' : '';
  return `${epochsDone} of ${epochs} epochs${resumable}`;
}

function span(testid: string, text: string, className: string): HTMLSpanElement {
  const el = document.createElement('span');
  el.dataset['testid'] = testid;
  el.className = className;
  el.textContent = text;
  return el;
}

function button(testid: string, text: string, label: string, onClick: () => void): HTMLButtonElement {
  const el = document.createElement('button');
  el.type = 'button';
  el.dataset['testid'] = testid;
  el.textContent = text;
  el.setAttribute('aria-label', label);
  el.addEventListener('click', onClick);
  return el;
}
