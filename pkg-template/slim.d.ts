// `hindcast/slim`: the same API as `hindcast`, loading the module as a file.
export * from "./index.js";
