// A tiny event emitter shared by the signalling, media and call modules.
export class Emitter {
    constructor() {
        this.handlers = new Map();
    }

    on(type, fn) {
        if (!this.handlers.has(type)) this.handlers.set(type, new Set());
        this.handlers.get(type).add(fn);
        return () => this.off(type, fn);
    }

    off(type, fn) {
        const set = this.handlers.get(type);
        if (set) set.delete(fn);
    }

    emit(type, ...args) {
        const set = this.handlers.get(type);
        if (!set) return;
        for (const fn of [...set]) {
            try {
                fn(...args);
            } catch (err) {
                console.error(`handler for "${type}" failed`, err);
            }
        }
    }
}
