// Tasks kept per organization, one JSON file per organization under the
// plugin's data directory (MCPHOST_PLUGIN_DATA_DIR, which the host creates), so
// they survive restarts and hot swaps. Without a data directory they live in
// memory only.
//
// During a hot swap two instances of this plugin run at once (the old one
// finishing its calls), so every change is a read-modify-write of the file
// under an exclusive lock file, and every read goes to the file.
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Task {
  id: string;
  title: string;
  notes: string;
  due: string;
  done: boolean;
  createdBy: string;
  createdAt: string;
  completedBy: string;
  completedAt: string;
}

export class TaskNotFound extends Error {
  constructor(id: string) {
    super(`no task ${JSON.stringify(id)} in your organization`);
  }
}

/** Most tasks one organization may hold: a bound on what one tenant can make us keep. */
export const MAX_TASKS_PER_ORG = 1000;

const LOCK_STALE_MS = 5_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class TaskStore {
  readonly #dir: string | undefined;
  readonly #memory = new Map<string, Task[]>();

  constructor(dataDir: string | undefined) {
    this.#dir = dataDir ? join(dataDir, "tasks") : undefined;
    if (this.#dir) mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
  }

  list(org: string): Task[] {
    return this.#read(org);
  }

  add(org: string, fields: Pick<Task, "title" | "notes" | "due" | "createdBy">): Task {
    return this.#update(org, (tasks) => {
      if (tasks.length >= MAX_TASKS_PER_ORG) {
        throw new Error(`your organization has ${MAX_TASKS_PER_ORG} tasks, the most kept; delete some first`);
      }
      const task: Task = {
        id: randomBytes(4).toString("hex"),
        ...fields,
        done: false,
        createdAt: new Date().toISOString(),
        completedBy: "",
        completedAt: "",
      };
      tasks.push(task);
      return task;
    });
  }

  complete(org: string, id: string, by: string): Task {
    return this.#update(org, (tasks) => {
      const task = tasks.find((t) => t.id === id);
      if (!task) throw new TaskNotFound(id);
      if (!task.done) {
        task.done = true;
        task.completedBy = by;
        task.completedAt = new Date().toISOString();
      }
      return task;
    });
  }

  remove(org: string, id: string): Task {
    return this.#update(org, (tasks) => {
      const i = tasks.findIndex((t) => t.id === id);
      if (i < 0) throw new TaskNotFound(id);
      return tasks.splice(i, 1)[0]!;
    });
  }

  // An organization id comes from the verified token, but it is still not a
  // file name: hashing it keeps every id inside the directory.
  #file(org: string): string {
    return join(this.#dir!, createHash("sha256").update(org).digest("hex") + ".json");
  }

  #read(org: string): Task[] {
    if (!this.#dir) return structuredClone(this.#memory.get(org) ?? []);
    try {
      return JSON.parse(readFileSync(this.#file(org), "utf8")) as Task[];
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
  }

  #update<T>(org: string, change: (tasks: Task[]) => T): T {
    if (!this.#dir) {
      const tasks = this.#memory.get(org) ?? [];
      const out = change(tasks);
      this.#memory.set(org, tasks);
      return structuredClone(out);
    }
    const file = this.#file(org);
    const unlock = lock(file + ".lock");
    try {
      const tasks = this.#read(org);
      const out = change(tasks);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(tasks), { mode: 0o600 });
      renameSync(tmp, file);
      return out;
    } finally {
      unlock();
    }
  }
}

// lock takes an exclusive lock file, waiting for another process's (a lock
// left by a killed process is taken over once stale). Changes take well under a
// millisecond, so waiting synchronously is simpler than queueing.
function lock(path: string): () => void {
  for (let waited = 0; ; waited++) {
    try {
      closeSync(openSync(path, "wx", 0o600));
      return () => unlinkSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    try {
      if (Date.now() - statSync(path).mtimeMs > LOCK_STALE_MS) unlinkSync(path);
    } catch {
      // gone already: try again
    }
    if (waited > 10_000) throw new Error("task storage is busy; try again");
    Atomics.wait(sleeper, 0, 0, 1);
  }
}
