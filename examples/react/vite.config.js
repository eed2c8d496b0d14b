import { defineConfig } from "vite";

export default defineConfig({
  // hindcast is linked from ../../pkg: React is looked up from here, not from there.
  resolve: { dedupe: ["react", "react-dom"] },
});
