import { report } from "./check.js";

report();
