// The qemu-chroot builder: templates, build steps, provisioners. See README.md.
