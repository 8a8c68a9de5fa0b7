// The benchmark suites reuse the test tier's extension-host entry (it runs the *.test.js beside it).
export { run } from '../suite/index';
