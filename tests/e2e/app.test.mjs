// End-to-end tests of the built page (dist/) in headless Debian Chromium, driven by
// playwright-core. They act as a person would, through the contract's data-testid hooks.
// Run by ./scripts/test after `trunk build --release`. Screenshots: target/e2e/.
//
// One browser, one shared page (session.mjs, with the page object in page.mjs); the specs
// are split by feature under features/ and run in this order (later ones start from the
// state earlier ones left: the demo labelled, a label file exported).
import './session.mjs';
import './features/basics.mjs';
import './features/files.mjs';
import './features/durability.mjs';
import './features/propagation.mjs';
import './features/steps.mjs';
import './features/classifier.mjs';
import './features/embedding.mjs';
import './features/scale.mjs';
import './features/training-export.mjs';
import './features/generate.mjs';
import './features/team.mjs';
import './features/clean.mjs';
